// Progressive enhancement for the page of a queued results email: it asks the server every few
// seconds what became of the message and, once that changes, says so in the page's live region.
// Without JavaScript the page works the same; its "Check again" link reloads it.
(function () {
  "use strict";
  var POLL_MS = 5000; // the deliverer looks for due messages every 2 s; a retry comes within 10 s
  var section = document.querySelector("[data-email-status]");
  if (!section || !window.fetch) return;
  var url = section.getAttribute("data-email-status");
  var state = section.getAttribute("data-state");

  function part(name) {
    return section.querySelector('[data-outcome="' + name + '"]');
  }

  function element(tag, text) {
    var made = document.createElement(tag);
    made.textContent = text;
    return made;
  }

  function showFacts(facts) {
    var list = part("facts");
    list.replaceChildren();
    facts.forEach(function (fact) {
      var value = document.createElement("dd");
      value.append(fact[2] ? element("code", fact[1]) : fact[1]);
      list.append(element("dt", fact[0]), value);
    });
  }

  function showNextStep(outcome) {
    var next = part("next");
    if (outcome.next_url) {
      var link = element("a", outcome.next_step);
      link.href = outcome.next_url;
      next.replaceChildren(link);
    } else {
      next.replaceChildren(outcome.next_step);
    }
  }

  // The details are kept current on every answer; the live region changes with the state only.
  function showDetails(outcome) {
    showFacts(outcome.facts);
    var explanation = part("explanation");
    explanation.textContent = outcome.explanation || "";
    explanation.hidden = !outcome.explanation;
    part("transcript").textContent = outcome.transcript.join("\n") || "No attempt yet.";
  }

  function showState(outcome) {
    section.classList.replace("email-" + state, "email-" + outcome.state);
    section.setAttribute("data-state", outcome.state);
    state = outcome.state;
    part("heading").textContent = outcome.heading;
    part("summary").textContent = outcome.summary;
    showNextStep(outcome);
    document.title = document.title.replace(/^[^·]*/, outcome.heading + " ");
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (outcome) {
        if (outcome) {
          showDetails(outcome);
          if (outcome.state !== state) showState(outcome);
        }
        if (state === "queued") window.setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        window.setTimeout(poll, POLL_MS); // the web app restarting: ask again later
      });
  }

  if (state === "queued") window.setTimeout(poll, POLL_MS);
})();
