// The placement form: only the chosen service's sections, and each day-first date echoed in words.
// A script file (no inline script); the form works without it, all sections then shown by the server.
(function () {
  "use strict";
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  var form = document.querySelector("form[action='/']");
  if (!form) { return; }

  function chosenService() {
    var checked = form.querySelector("input[name='service']:checked");
    return checked ? checked.value : "";
  }

  function showSections() {
    var service = chosenService();
    form.querySelectorAll("fieldset[data-section]").forEach(function (section) {
      // the services a section belongs to, as the server writes them (none: every service)
      var owners = (section.getAttribute("data-services") || "").split(" ").filter(Boolean);
      var hide = owners.length > 0 && owners.indexOf(service) < 0;
      section.hidden = hide;
      // a hidden section's values are not sent: they belong to another service
      section.querySelectorAll("input, select, textarea").forEach(function (control) { control.disabled = hide; });
    });
  }

  function realDate(year, month, day) {
    var when = new Date(Date.UTC(year, month - 1, day));
    return when.getUTCFullYear() === year && when.getUTCMonth() === month - 1 && when.getUTCDate() === day;
  }

  function inWords(text) {
    var iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
    var dmy = /^(\d{1,2})([\/.\- ])(\d{1,2})\2(\d{4})$/.exec(text);
    var year, month, day;
    if (iso) { year = +iso[1]; month = +iso[2]; day = +iso[3]; }
    else if (dmy) { day = +dmy[1]; month = +dmy[3]; year = +dmy[4]; }
    else { return ""; }
    return realDate(year, month, day) ? day + " " + MONTHS[month - 1] + " " + year : "not a real date (day first)";
  }

  function echo(input, typed) {
    var words = document.getElementById(input.id + "-words");
    if (!words) { return; }
    var text = input.value.trim();
    var said = text ? inWords(text) : "";
    if (said || typed) {
      // a form the script does not read (e.g. "4 May 2026") is left to the server, which reads it
      words.textContent = said || (/^[0-9\/.\- ]+$/.test(text) ? "day/month/year, as 04/05/2026" : "");
    }
  }

  form.querySelectorAll("input[name='service']").forEach(function (radio) {
    radio.addEventListener("change", showSections);
  });
  form.querySelectorAll("input.day-first").forEach(function (input) {
    input.addEventListener("input", function () { echo(input, true); });
    echo(input, false);
  });
  showSections();
})();
