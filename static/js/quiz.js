// Progressive enhancement for the quiz page: "3 of 10 answered" and a countdown.
// Without JavaScript the form works the same; the server enforces the time limit.
(function () {
  "use strict";
  var form = document.querySelector(".quiz-form");
  if (!form) return;

  var questions = form.querySelectorAll("fieldset.question");
  var bar = form.querySelector("[data-progress]");
  var counter = bar && bar.querySelector("[data-answered]");
  var meter = bar && bar.querySelector("progress");

  function updateProgress() {
    var answered = 0;
    questions.forEach(function (fieldset) {
      if (fieldset.querySelector("input:checked")) answered += 1;
    });
    counter.textContent = String(answered);
    meter.value = answered;
  }

  if (bar) {
    bar.hidden = false;
    form.addEventListener("change", updateProgress);
    updateProgress();
  }

  var time = document.querySelector(".deadline time");
  var timer = document.querySelector(".deadline .timer");
  if (!time || !timer) return;
  var deadline = Date.parse(time.getAttribute("datetime"));

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var minutes = Math.floor(left / 60);
    var seconds = String(left % 60).padStart(2, "0");
    timer.textContent = left > 0 ? " " + minutes + ":" + seconds + " left." : " Time is up.";
    if (left > 0) window.setTimeout(tick, 1000);
  }
  timer.hidden = false;
  tick();
})();
