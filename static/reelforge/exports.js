// Exports page: the table re-renders when any job changes status; cancel and retry in place.

import { fragment } from "./api.js";
import { refreshOnJobs, wireJobButtons } from "./jobs.js";

const section = document.querySelector("[data-role=exports]");
const rows = section.querySelector("[data-role=job-rows]");

async function refresh() {
  rows.innerHTML = await fragment("/exports/rows");
}

wireJobButtons(section);
section.addEventListener("jobs-changed", refresh);
refreshOnJobs(() => true, refresh);
