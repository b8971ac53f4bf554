// Small enhancements on top of pages that work without JavaScript.
"use strict";

// "Respond to this passage": select words in a section and a button offers to quote
// them in the comment form (which, without JavaScript, has a plain quote field). The
// button is placed at the end of the selected paragraph, so that Tab reaches it from a
// selection made with the keyboard.
(function () {
  const text = document.querySelector("[data-section-text]");
  const form = document.querySelector("[data-comment-form]");
  if (!text || !form) return;

  const button = document.createElement("button");
  button.type = "button";
  button.className = "quote-button";
  button.textContent = "Respond to this passage";
  button.hidden = true;

  function selectedPassage() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    const words = selection.toString().replace(/\s+/g, " ").trim();
    if (!words || words.length > 1000) return null;
    const start = selection.anchorNode && selection.anchorNode.parentElement;
    const paragraph = start && start.closest("[data-section-text] p[id]");
    if (!paragraph) return null;
    return { words, paragraph, rect: selection.getRangeAt(0).getBoundingClientRect() };
  }

  document.addEventListener("selectionchange", () => {
    const passage = selectedPassage();
    if (!passage) {
      if (document.activeElement !== button) button.hidden = true;
      return;
    }
    if (button.parentElement !== passage.paragraph) {
      // Before the paragraph's own ¶ link: the next stop for Tab after the selection.
      passage.paragraph.insertBefore(button, passage.paragraph.querySelector(".pilcrow"));
    }
    button.hidden = false;
    const box = (button.offsetParent || document.body).getBoundingClientRect();
    button.style.top = `${passage.rect.bottom - box.top + 8}px`;
    button.style.left = `${Math.max(0, passage.rect.left - box.left)}px`;
  });

  // Tab with a passage selected goes to the button, wherever the focus was in the page
  // (a selection made by script or by caret browsing may not move the focus).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || event.shiftKey || button.hidden) return;
    const active = document.activeElement;
    if (active === button || (active && active !== document.body && !text.contains(active))) {
      return;
    }
    event.preventDefault();
    button.focus();
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
    if (showThreadsFirst(passage.paragraph.id)) return;
    button.textContent = "Respond to this passage";
    shownFor = null;
    const quote = current.querySelector("[name=quote]");
    quote.value = passage.words;
    current.querySelector("[name=quote_anchor]").value = passage.paragraph.id;
    showQuote(quote.closest("[data-quote-field]"));
    quote.dispatchEvent(new Event("input", { bubbles: true })); // kept with the draft
    button.hidden = true;
    const body = current.querySelector("[name=body]");
    body.scrollIntoView({ block: "center" });
    body.focus();
  });
})();

function showQuote(field) {
  field.hidden = false;
  const open = field.nextElementSibling;
  if (open && open.classList.contains("comment-form__add-quote")) open.remove();
}

// Comment, reply and edit forms: the quote field only when it holds a passage; drafts
// kept in this browser until they are sent (an accidental reload or a link followed
// loses nothing) and a question before leaving a page with one unsent; Reply opens its
// form once (a second press keeps what is typed), Cancel closes it; focus moves into
// an opened form.
(function () {
  const PREFIX = "essayforum:draft:";
  const store = (() => {
    try {
      const probe = `${PREFIX}probe`;
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch {
      return null; // storage off: drafts live as long as the page
    }
  })();
  const key = (form) => PREFIX + form.dataset.draft;
  const fieldsOf = (form) => ["body", "quote", "quote_anchor"]
    .map((name) => form.querySelector(`[name=${name}]`))
    .filter(Boolean);

  function save(form) {
    if (!store) return;
    const fields = fieldsOf(form);
    if (fields.every((field) => field.value === field.defaultValue)) {
      store.removeItem(key(form));
      return;
    }
    const draft = Object.fromEntries(fields.map((field) => [field.name, field.value]));
    store.setItem(key(form), JSON.stringify(draft));
  }

  function restore(form) {
    if (!store) return;
    let draft = null;
    try {
      draft = JSON.parse(store.getItem(key(form)) || "null");
    } catch {
      store.removeItem(key(form));
    }
    if (!draft) return;
    for (const field of fieldsOf(form)) {
      if (typeof draft[field.name] === "string") field.value = draft[field.name];
    }
  }

  function forget(form) {
    if (store) store.removeItem(key(form));
  }

  function prepare(root) {
    const forms = root.matches && root.matches("form[data-draft]")
      ? [root]
      : root.querySelectorAll("form[data-draft]");
    for (const form of forms) {
      restore(form);
      const quote = form.querySelector("[data-quote-field]");
      if (quote && !quote.querySelector("textarea").value.trim() && !quote.querySelector(".errorlist")) {
        hideQuote(quote);
      }
    }
  }

  // An empty quote field folds into a small button that opens it (to paste a passage by
  // hand); "Respond to this passage" opens it too.
  function hideQuote(field) {
    if (field.hidden) return;
    field.hidden = true;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link-button comment-form__add-quote";
    open.textContent = "Quote from the section";
    open.addEventListener("click", () => {
      showQuote(field);
      field.querySelector("textarea").focus();
    });
    field.after(open);
  }

  function unsent() {
    return Array.from(document.querySelectorAll("form[data-draft] [name=body]")).some(
      (body) => body.value.trim() && body.value !== body.defaultValue,
    );
  }

  prepare(document);
  document.body.addEventListener("htmx:load", (event) => prepare(event.detail.elt));

  document.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form[data-draft]");
    if (form) save(form);
  });

  // A plain form sent from the page (no htmx) is leaving on purpose.
  let sending = false;
  document.addEventListener("submit", (event) => {
    if (!event.target.matches("[data-hx-post]")) sending = true;
    // Signing out leaves nothing one wrote behind for the next person at this browser.
    if (event.target.matches("[data-forget-drafts]") && store) {
      for (const name of Object.keys(store)) if (name.startsWith(PREFIX)) store.removeItem(name);
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (sending || !unsent()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers need a value to ask
  });

  // Sent and accepted: the draft is done with (before the answer replaces the form).
  document.body.addEventListener("htmx:beforeOnLoad", (event) => {
    const form = event.detail.elt;
    if (form.matches("form[data-draft]") && event.detail.xhr.status < 300) forget(form);
  });

  // Reply or Edit pressed again while its form is open: keep the form (and what is typed).
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const target = event.detail.target;
    if (event.detail.requestConfig.verb !== "get" || !target) return;
    const open = target.querySelector("form[data-draft]");
    if (open) {
      event.preventDefault();
      open.querySelector("[name=body]").focus();
    }
  });

  // An edit form replaces the comment's text: keep the text to put back on Cancel.
  const before = new Map();
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.requestConfig.verb === "get" && target.classList.contains("comment__body")) {
      before.set(target.id, target.innerHTML);
    }
  });

  // Headers sent along with a new reply (its ancestors' counts): each takes the place of
  // the one on the page, if this page shows it.
  document.body.addEventListener("htmx:load", (event) => {
    const root = event.detail.elt;
    if (!root.querySelectorAll) return;
    const boxes = root.matches("[data-refreshes]") ? [root] : root.querySelectorAll("[data-refreshes]");
    for (const box of boxes) {
      for (const fresh of Array.from(box.children)) {
        const old = document.getElementById(fresh.dataset.refresh);
        if (old) {
          fresh.id = fresh.dataset.refresh;
          fresh.removeAttribute("data-refresh");
          old.replaceWith(fresh);
        }
      }
      box.remove();
    }
  });

  // A form opened in place takes the focus.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.requestConfig.verb !== "get") return;
    const body = event.detail.target.querySelector("form[data-draft] [name=body]");
    if (body) body.focus();
  });

  // Cancel closes a form opened in place and gives the focus back to what opened it.
  document.addEventListener("click", (event) => {
    const cancel = event.target.closest && event.target.closest("[data-cancel]");
    if (!cancel) return;
    const form = cancel.closest("form[data-draft]");
    const slot = form.parentElement;
    const comment = form.closest(".comment");
    if (!comment) return; // a page of its own: the link leaves it
    event.preventDefault();
    forget(form);
    if (slot.classList.contains("comment__reply-slot")) {
      slot.replaceChildren();
      comment.querySelector(`a[data-hx-target="#${slot.id}"]`)?.focus();
    } else if (slot.classList.contains("comment__body") && before.has(slot.id)) {
      slot.innerHTML = before.get(slot.id); // the comment's own text, as the server sent it
      before.delete(slot.id);
      window.htmx?.process(slot);
      comment.querySelector(`a[data-hx-target="#${slot.id}"]`)?.focus();
    }
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
