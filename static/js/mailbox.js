// New mail without reloading: poll a small JSON status and, when it changes, swap in the list.
// Progressive enhancement only: without JavaScript the page keeps its "Refresh" link.
(function () {
  "use strict";
  const results = document.getElementById("mailbox-results");
  const announcer = document.getElementById("mailbox-announcer");
  if (!results || !announcer || !window.fetch || !window.DOMParser) return;
  const pollMs = 1000 * (Number(results.dataset.pollSeconds) || 5);
  let announcedState = "";

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function describe(added) {
    if (added <= 0) return "The mailbox has changed.";
    return added + (added === 1 ? " new message." : " new messages.");
  }

  async function fetchStatus() {
    const response = await fetch(results.dataset.statusUrl, { headers: { Accept: "application/json" } });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || !type.includes("json")) throw new Error("logged out or unavailable");
    return response.json();
  }

  async function replaceList() {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error("list unavailable");
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("mailbox-results");
    if (!fresh) throw new Error("logged out");
    results.innerHTML = fresh.innerHTML;
    results.dataset.total = fresh.dataset.total;
    results.dataset.newest = fresh.dataset.newest;
  }

  async function check() {
    const status = await fetchStatus();
    const state = status.total + " " + (status.newest || "");
    if (state === results.dataset.total + " " + results.dataset.newest) return;
    const news = describe(status.total - Number(results.dataset.total));
    if (results.contains(document.activeElement)) {
      // Never pull the list from under the keyboard focus: say so once, the Refresh link does it.
      if (state !== announcedState) announce(news + " Use the Refresh link to see it.");
      announcedState = state;
      return;
    }
    await replaceList();
    announce(news);
  }

  async function poll() {
    try {
      await check();
    } catch (error) {
      announce("Automatic updates stopped. Use the Refresh link.");
      return;
    }
    window.setTimeout(poll, pollMs);  // one request at a time, however slow the server is
  }

  window.setTimeout(poll, pollMs);
})();
