// Follows a running job on its admin page: polls the job's API URL (the admin session authenticates it), moves the
// progress bar and message, and reloads the page once the job has succeeded or failed, to show its outcome.
// The admin loads this in <head>, before the page it acts on exists.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const holder = document.querySelector("[data-job-poll-url]");
  if (!holder) {
    return;
  }
  const url = holder.dataset.jobPollUrl;
  const heading = holder.querySelector("h2");
  const bar = holder.querySelector("progress");
  const text = holder.querySelector(".job-progress-text");
  const message = holder.querySelector(".job-progress-message");

  function show(job) {
    const progress = job.progress;
    if (progress.percent === null) {
      bar.removeAttribute("value");
    } else {
      bar.value = progress.percent;
    }
    heading.textContent = job.state === "queued" ? "Waiting for a worker" : "Running";
    text.textContent = progress.done + " / " + (progress.total === null ? "?" : progress.total);
    message.textContent = progress.message;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.state === "succeeded" || job.state === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000); // the server may be restarting: keep following, less often
      });
  }

  window.setTimeout(poll, 500);
});
