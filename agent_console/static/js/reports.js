// The report page while a report job is queued or running: poll its state and progress, then show
// the report (reload) or fetch the file (the same download URL) once done; a failed job offers "try again".
"use strict";

(function () {
  const box = document.querySelector('[data-testid="report-job"]');
  if (!box || box.dataset.state === "done" || box.dataset.state === "failed") return;
  const strings = JSON.parse(document.getElementById("i18n").textContent);
  const label = (state) => strings["reports.job." + state] || state;
  const stateEl = box.querySelector('[data-testid="report-job-state"]');
  const bar = box.querySelector('[data-testid="report-job-progress"]');
  const step = box.querySelector('[data-testid="report-job-step"]');
  const errorBox = box.querySelector('[data-testid="report-job-error"]');
  const again = box.querySelector('[data-testid="report-job-again"]');

  function target() {
    const url = new URL(window.location.href);
    url.searchParams.delete("again");  // once done: show (or download) what the job made
    return url.toString();
  }

  async function poll() {
    let job;
    try {
      const resp = await fetch(box.dataset.poll, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!resp.ok) throw new Error(String(resp.status));
      job = await resp.json();
    } catch (err) {
      window.setTimeout(poll, 3000);  // the console or the job store away for a moment
      return;
    }
    box.dataset.state = job.state;
    stateEl.textContent = label(job.state);
    bar.value = job.progress;
    step.textContent = job.step;
    errorBox.hidden = !job.error;
    errorBox.querySelector(".notice-detail").textContent = job.error;
    if (job.state === "done") {
      window.location.replace(target());
      return;
    }
    if (job.state === "failed") {
      again.hidden = false;
      return;
    }
    window.setTimeout(poll, 1000);
  }

  window.setTimeout(poll, 500);
})();
