// Small enhancements on top of pages that work without JavaScript.
"use strict";

// "Respond to this passage": select words in a section and a button offers to quote
// them in the comment form (which, without JavaScript, has a plain quote field).
(function () {
  const text = document.querySelector("[data-section-text]");
  const form = document.querySelector("[data-comment-form]");
  if (!text || !form) return;

  const button = document.createElement("button");
  button.type = "button";
  button.className = "quote-button";
  button.textContent = "Respond to this passage";
  button.hidden = true;
  document.body.append(button);

  function selectedPassage() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed) return null;
    const words = selection.toString().replace(/\s+/g, " ").trim();
    if (!words || words.length > 1000) return null;
    const start = selection.anchorNode && selection.anchorNode.parentElement;
    const paragraph = start && start.closest("[data-section-text] p[id]");
    if (!paragraph) return null;
    return { words, anchor: paragraph.id, rect: selection.getRangeAt(0).getBoundingClientRect() };
  }

  document.addEventListener("selectionchange", () => {
    const passage = selectedPassage();
    if (!passage) {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    button.style.top = `${window.scrollY + passage.rect.bottom + 8}px`;
    button.style.left = `${window.scrollX + passage.rect.left}px`;
  });

  // A paragraph that threads already quote: show them first, so that people join an
  // existing thread rather than start a duplicate; a second press opens a new one.
  let shownFor = null;
  function showThreadsFirst(anchor) {
    const mark = document.querySelector(`.passage-mark[data-passage="${anchor}"]`);
    if (!mark || shownFor === anchor) return false;
    shownFor = anchor;
    const quotes = document.querySelectorAll(`.quote-block a[href$="#${anchor}"]`);
    const threads = [...quotes].map((link) => link.closest(".comment")).filter(Boolean);
    if (!threads.length) {
      window.location.href = mark.href; // on another page of the discussion
      return true;
    }
    document.querySelectorAll(".comment.is-on-passage").forEach((c) => c.classList.remove("is-on-passage"));
    threads.forEach((thread) => thread.classList.add("is-on-passage"));
    threads[0].scrollIntoView({ block: "center" });
    button.textContent = "Start a new thread anyway";
    return true;
  }

  button.addEventListener("click", () => {
    const passage = selectedPassage();
    const current = document.querySelector("[data-comment-form]");
    if (!passage || !current) return;
    if (showThreadsFirst(passage.anchor)) return;
    button.textContent = "Respond to this passage";
    shownFor = null;
    current.querySelector("[name=quote]").value = passage.words;
    current.querySelector("[name=quote_anchor]").value = passage.anchor;
    button.hidden = true;
    const body = current.querySelector("[name=body]");
    body.scrollIntoView({ block: "center" });
    body.focus();
  });
})();

// In-place actions that cannot complete: a session that expired sends the browser to
// the sign-in page (rather than swapping that page into a comment), and any other
// refusal is said out loud instead of failing silently.
(function () {
  const status = document.createElement("div");
  status.className = "action-status";
  status.setAttribute("role", "alert");
  status.hidden = true;
  document.body.append(status);

  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const url = event.detail.xhr.responseURL || "";
    if (url.includes("/accounts/login/")) {
      event.detail.shouldSwap = false;
      window.location.assign(url);
    }
  });

  document.body.addEventListener("htmx:responseError", (event) => {
    const code = event.detail.xhr.status;
    status.textContent =
      code === 403
        ? "You cannot do that here (are you signed in with a verified email?)."
        : code === 404
          ? "That comment is gone; reload the page to see the discussion as it is now."
          : "That did not work. Please reload the page and try again.";
    status.hidden = false;
    setTimeout(() => { status.hidden = true; }, 8000);
  });
})();
