// Small progressive enhancements; every page works without them.
document.addEventListener("submit", (e) => {
  const msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.addEventListener("change", (e) => {
  if (e.target.classList.contains("autosubmit")) e.target.form.submit();
});
document.addEventListener("click", (e) => {
  const el = e.target.closest("code.copy");
  if (el && navigator.clipboard) {
    navigator.clipboard.writeText(el.textContent.trim()).then(() => {
      el.title = "copied";
    }, () => {});
  }
});
