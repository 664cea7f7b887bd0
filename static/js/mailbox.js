// New mail without reloading: poll a small JSON status and, when it changes, swap in the list.
// Progressive enhancement only: without JavaScript the page keeps its "Refresh" link.
(function () {
  "use strict";
  const results = document.getElementById("mailbox-results");
  const announcer = document.getElementById("mailbox-announcer");
  if (!results || !announcer || !window.fetch) return;
  const pollMs = 1000 * (Number(results.dataset.pollSeconds) || 5);
  let timer = null;

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
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

  async function poll() {
    try {
      const status = await fetchStatus();
      const before = Number(results.dataset.total);
      if (status.total === before && (status.newest || "") === results.dataset.newest) return;
      const added = status.total - before;
      const news = added > 0 ? added + (added === 1 ? " new message." : " new messages.") : "The mailbox has changed.";
      if (results.contains(document.activeElement)) {
        // Never pull the list from under the keyboard focus: say so, and let the Refresh link do it.
        announce(news + " Use the Refresh link to see it.");
        return;
      }
      await replaceList();
      announce(news);
    } catch (error) {
      window.clearInterval(timer);
      announce("Automatic updates stopped. Use the Refresh link.");
    }
  }

  timer = window.setInterval(poll, pollMs);
})();
