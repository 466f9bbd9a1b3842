// Plain-form helpers of every page. No page has inline script or on* attributes: the console's
// Content-Security-Policy (agent_console/headers.py) runs only the files under /static.
"use strict";

// <select data-autosubmit>: a filter that applies itself when chosen (the stage filters)
document.querySelectorAll("select[data-autosubmit]").forEach((el) => {
  el.addEventListener("change", () => el.form && el.form.submit());
});
