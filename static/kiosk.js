// Kiosk behaviour: a 3-2-1 countdown over the live camera, then the capture; keys (space to
// take, 1/2/3 for the styles); and the idle reset. The reset reloads the page: a new session,
// so the next visitor never sees the previous one. Idle means nobody touched the screen and the
// wall (portrait, label, their progress timers) did not change: a visitor waiting for a slow
// painting is not reset under it, and sees it for the full idle time once it hangs.
// __IDLE__ is replaced by app.py.
() => {
  const idleMs = __IDLE__ * 1000;
  let idle;
  const rearm = () => { clearTimeout(idle); idle = setTimeout(() => location.reload(), idleMs); };
  ["pointerdown", "keydown", "touchstart"].forEach((e) => document.addEventListener(e, rearm, true));
  rearm();
  new MutationObserver(rearm).observe(document.querySelector("#wall"),
                                      {childList: true, subtree: true, characterData: true, attributes: true});
  const overlay = document.createElement("div");
  overlay.id = "countdown";
  const camera = document.querySelector("#photo");
  camera.style.position = "relative";
  camera.appendChild(overlay);
  const button = (label) => document.querySelector(`#photo button[aria-label="${label}"]`);
  const webcamReady = () => { const v = document.querySelector("#photo video");
                              return v && v.readyState >= 2 && v.videoWidth > 0; };
  window.portraitCountdown = () => {
    if (overlay.dataset.running) return;
    const again = button("Remove Image");
    if (again) again.click();  // a new visitor: drop the previous photo first
    const access = [...document.querySelectorAll("#photo button")]
      .find((b) => b.innerText.includes("Click to Access Webcam"));
    if (access) access.click();
    overlay.dataset.running = "1";
    let n = 3;
    overlay.textContent = n;
    overlay.style.display = "flex";
    const tick = setInterval(() => {
      n -= 1;
      if (n > 0) { overlay.textContent = n; return; }
      if (!webcamReady()) { overlay.textContent = "…"; return; }
      clearInterval(tick);
      overlay.style.display = "none";
      delete overlay.dataset.running;
      button("capture photo").click();
    }, 1000);
  };
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space") { e.preventDefault(); window.portraitCountdown(); }
    const styles = document.querySelectorAll(".kiosk-style");
    const index = ["Digit1", "Digit2", "Digit3"].indexOf(e.code);
    if (index >= 0 && styles[index]) styles[index].click();
  });
}
