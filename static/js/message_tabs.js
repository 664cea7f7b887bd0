// The message page's parts as tabs (WAI-ARIA Authoring Practices, "Tabs with Automatic
// Activation"): Left/Right move between tabs and show each, Home/End go to the first and last.
// Progressive enhancement only: without JavaScript every part is shown, one after the other,
// and the same links jump to each.
(function () {
  "use strict";
  const nav = document.querySelector("[data-tabs]");
  if (!nav) return;
  const list = nav.querySelector("ul");
  const tabs = Array.from(list.querySelectorAll("a[href^='#']"));
  const panels = tabs.map(function (tab) { return document.getElementById(tab.hash.slice(1)); });
  if (tabs.length === 0 || panels.includes(null)) return;

  function select(index, focus) {
    tabs.forEach(function (tab, i) {
      const chosen = i === index;
      tab.setAttribute("aria-selected", String(chosen));
      tab.tabIndex = chosen ? 0 : -1;
      panels[i].hidden = !chosen;
    });
    if (focus) tabs[index].focus();
  }

  function onKey(event) {
    const current = tabs.indexOf(event.currentTarget);
    const last = tabs.length - 1;
    const next = {
      ArrowRight: current === last ? 0 : current + 1,
      ArrowLeft: current === 0 ? last : current - 1,
      Home: 0,
      End: last,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(next, true);
  }

  list.setAttribute("role", "tablist");
  list.setAttribute("aria-label", nav.getAttribute("aria-label") || "Parts");
  tabs.forEach(function (tab, i) {
    const panel = panels[i];
    tab.parentElement.setAttribute("role", "presentation");
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", panel.id);
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.tabIndex = 0;
    const heading = panel.querySelector("h2");
    if (heading) heading.classList.add("visually-hidden");  // the tab says it already
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      select(i, false);
      history.replaceState(null, "", tab.hash);
    });
    tab.addEventListener("keydown", onKey);
  });
  const fromAddress = tabs.findIndex(function (tab) { return tab.hash === window.location.hash; });
  select(Math.max(fromAddress, 0), false);
})();
