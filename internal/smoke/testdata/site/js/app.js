document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("js-status");
  if (el) el.textContent = "Scripts loaded";
});
