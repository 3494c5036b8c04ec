// The one-file report: the sessions list, and a session's page when the address names one
// (#session-N). Each session's page is the <template> of the same number, filled by the session
// page's own script (session.js, run as renderSession) from that session's part of the data.
// Recorded data is only ever written with textContent, never as HTML.

const reportData = JSON.parse(document.getElementById("report-data").textContent);
const listPage = document.getElementById("sessions-page");
const sessionPage = document.getElementById("session-page");
const reportTitle = document.title;

function showPage() {
  const match = /^#session-(\d+)$/.exec(window.location.hash);
  const index = match ? Number(match[1]) : -1;
  const template = document.getElementById(`session-${index}`);
  sessionPage.replaceChildren();
  if (index < 0 || index >= reportData.sessions.length || !template) {
    sessionPage.hidden = true;
    listPage.hidden = false;
    document.title = reportTitle;
    return;
  }
  sessionPage.append(template.content.cloneNode(true));
  const data = document.createElement("script");
  data.type = "application/json";
  data.id = "trace-data";
  data.textContent = JSON.stringify(reportData.sessions[index]);
  sessionPage.append(data);
  listPage.hidden = true;
  sessionPage.hidden = false;
  document.title = `${sessionPage.querySelector("h1").textContent} · aiobs`;
  renderSession();
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", showPage);
showPage();
