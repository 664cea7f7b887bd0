// Progressive enhancement for the quiz page. Without JavaScript the form works the same: Submit
// leads to a summary step, and the server enforces the time limit. With it:
// - "3 of 10 answered", always read from the form as it is (also after Back restores answers);
// - Enter in a radio button or checkbox never submits the quiz;
// - Submit asks first, in a dialog listing what is unanswered;
// - answers are saved on the server as the student works, so that a late or lost page loses
//   nothing given in time;
// - the countdown (in the sticky bar), the deadline in local time, a warning at one minute, and
//   when time is up the page submits what is there.
(function () {
  "use strict";
  var form = document.querySelector(".quiz-form");
  if (!form) return;

  var SAVE_DELAY_MS = 800; // a burst of clicks is one save
  var WARN_AT_SECONDS = 60;

  var questions = Array.prototype.slice.call(form.querySelectorAll("fieldset.question"));
  var bar = form.querySelector("[data-progress]");
  var counter = bar.querySelector("[data-answered]");
  var meter = bar.querySelector("progress");
  var saveState = bar.querySelector("[data-save-state]");
  var alertRegion = form.querySelector("[data-alert]");
  var confirmField = form.querySelector("[data-confirm-field]");
  var dialog = document.querySelector("[data-confirm]");
  var submitting = false;

  function unanswered() {
    return questions.filter(function (fieldset) {
      return !fieldset.querySelector("input:checked");
    });
  }

  function updateProgress() {
    var answered = questions.length - unanswered().length;
    counter.textContent = String(answered);
    meter.value = answered;
  }

  bar.hidden = false;
  form.addEventListener("change", updateProgress);
  // Back restores ticked options after scripts ran (or from the back-forward cache), firing no
  // change event: count again whenever the page is shown. A page restored from that cache after
  // it was submitted asks again before submitting.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitting = false;
      confirmField.disabled = true;
    }
    updateProgress();
  });
  updateProgress();

  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && target.matches && target.matches("input[type=radio], input[type=checkbox]")) {
      event.preventDefault();
    }
  });

  function submitNow() {
    submitting = true;
    confirmField.disabled = false;
    form.submit();
  }

  function legendOf(fieldset) {
    var legend = fieldset.querySelector("legend");
    var text = fieldset.querySelector(".question-text");
    var words = text ? text.textContent.trim().replace(/\s+/g, " ") : "";
    if (words.length > 60) words = words.slice(0, 59) + "…";
    // "Question 4 of 10" → "Question 4", as the summary page names them: short on a phone.
    var name = legend ? legend.firstChild.textContent.trim().replace(/ of \d+$/, "") : "";
    return name + (words ? ": " + words : "");
  }

  function fillDialog() {
    var missing = unanswered();
    var summary = dialog.querySelector("[data-confirm-summary]");
    var list = dialog.querySelector("[data-confirm-unanswered]");
    list.textContent = "";
    if (missing.length === 0) {
      summary.textContent = "You have answered all " + questions.length + " questions.";
    } else {
      summary.textContent = "You have answered " + (questions.length - missing.length) + " of " +
        questions.length + ". Not answered yet (they would score zero):";
      missing.forEach(function (fieldset) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = "#" + fieldset.id;
        link.textContent = legendOf(fieldset);
        link.addEventListener("click", function () { dialog.close(); });
        item.appendChild(link);
        list.appendChild(item);
      });
    }
  }

  if (dialog && typeof dialog.showModal === "function") {
    form.addEventListener("submit", function (event) {
      if (submitting) return;
      event.preventDefault();
      fillDialog();
      dialog.showModal();
      dialog.querySelector("[data-confirm-submit]").focus();
    });
    dialog.querySelector("[data-confirm-submit]").addEventListener("click", submitNow);
    dialog.querySelector("[data-confirm-cancel]").addEventListener("click", function () {
      dialog.close();
    });
  }

  // --- saving as the student works ---------------------------------------------------------
  var saveUrl = form.getAttribute("data-save-url");
  var saveTimer = null;

  function showSaved(text) {
    saveState.textContent = text;
  }

  function save() {
    saveTimer = null;
    if (submitting || !window.fetch || !window.FormData) return;
    var body = new FormData(form);
    body.delete("confirm");
    fetch(saveUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (reply) {
          if (reply.saved) {
            showSaved("Saved " + new Date(reply.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
          } else if (reply.reason === "submitted") {
            showSaved("This attempt was already submitted.");
          } else {
            showSaved("Not saved: time is up.");
          }
        });
      })
      .catch(function () { showSaved("Not saved: no connection. Your answers are still on this page."); });
  }

  form.addEventListener("change", function () {
    if (saveTimer !== null) window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, SAVE_DELAY_MS);
  });

  // --- the countdown -----------------------------------------------------------------------
  var time = document.querySelector("[data-deadline]");
  var timer = bar.querySelector("[data-timer]");
  if (!time || !timer) return;
  var deadline = Date.parse(time.getAttribute("datetime"));
  var left = timer.querySelector("[data-time-left]");
  var warned = false;
  time.textContent = new Date(deadline).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function tick() {
    var seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    var minutes = Math.floor(seconds / 60);
    left.textContent = minutes + ":" + String(seconds % 60).padStart(2, "0") + " left";
    if (seconds <= WARN_AT_SECONDS && !warned) {
      warned = true;
      timer.classList.add("timer-warning");
      alertRegion.textContent = "One minute left. Your answers will be submitted when time is up.";
    }
    if (seconds === 0) {
      left.textContent = "Time is up";
      alertRegion.textContent = "Time is up: submitting your answers.";
      if (dialog && dialog.open) dialog.close();
      if (!submitting) submitNow();
      return;
    }
    window.setTimeout(tick, 1000 - (Date.now() % 1000));
  }
  tick();
})();
