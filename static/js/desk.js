// The review desk (templates/admin/forum/reviewitem/desk.html), one keystroke per
// decision: j/k move, a approves, s marks as spam, r and b open a list of reasons (a
// digit picks one and sends), u undoes the last decision, ? shows the keys.
//
// Without this file every decision is a plain form. With it, the same forms are sent
// in place, one after another in the order they were made, and focus moves on to the
// next card at once, so the moderator never waits for the server or reaches for the
// mouse. When every card of the page is decided, the page loads the next ones.
"use strict";

(() => {
  const desk = document.getElementById("desk");
  if (!desk) return;

  const cards = [...desk.querySelectorAll(".desk-card")];
  const help = document.getElementById("desk-keys");
  const message = document.getElementById("desk-message");
  const undoForm = document.getElementById("desk-undo");
  const lastDecision = document.getElementById("desk-last");
  let current = null;
  let queue = Promise.resolve(); // requests go out one at a time, in order
  let sending = 0;

  desk.classList.add("has-keys");
  // The keys work now: say so to assistive technology too.
  for (const element of desk.querySelectorAll("[data-shortcut]")) {
    element.setAttribute("aria-keyshortcuts", element.dataset.shortcut);
  }
  help.hidden = false;
  help.open = window.matchMedia("(min-width: 768px)").matches; // a phone has no keys


  const isOpen = (card) => !card.classList.contains("is-decided");
  const say = (text) => {
    message.textContent = text;
  };

  function show(card, { scroll = true } = {}) {
    if (!card) return;
    current = card;
    for (const each of cards) each.classList.toggle("is-current", each === card);
    card.focus({ preventScroll: true });
    if (scroll) card.scrollIntoView({ block: "start" });
  }

  function neighbour(card, direction) {
    for (let i = cards.indexOf(card) + direction; i >= 0 && i < cards.length; i += direction) {
      if (isOpen(cards[i])) return cards[i];
    }
    return null;
  }

  function closePickers(card) {
    for (const picker of card.querySelectorAll(".desk-picker")) picker.open = false;
  }

  async function post(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const type = response.headers.get("Content-Type") || "";
      if (type.startsWith("application/json")) return await response.json();
      return {
        ok: false,
        message: `The server answered ${response.status}: nothing changed. Reload the page (are you still signed in?).`,
      };
    } catch {
      return { ok: false, message: "The server could not be reached: nothing changed. Try again." };
    }
  }

  function outcome(card, text) {
    const line = card.querySelector(".desk-outcome");
    line.hidden = text === null;
    line.textContent = text || "";
  }

  function whenAllSent() {
    sending -= 1;
    if (sending === 0 && cards.length && !cards.some(isOpen)) {
      say("Every comment on this page is decided. Loading the next ones…");
      window.location.assign(window.location.pathname + window.location.search);
    }
  }

  function decide(form, submitter) {
    const card = form.closest(".desk-card");
    if (!isOpen(card)) {
      say("Already decided. Press u to undo the last decision.");
      return;
    }
    const body = new FormData(form, submitter);
    closePickers(card);
    card.classList.add("is-decided", "is-sending");
    outcome(card, "Sending…");
    const next = neighbour(card, 1) || neighbour(card, -1);
    if (next) show(next);
    sending += 1;
    queue = queue
      .then(() => post(form.action, body))
      .then((reply) => {
        card.classList.remove("is-sending");
        say(reply.message);
        if (reply.ok) {
          outcome(card, reply.outcome);
          undoForm.elements.comment.value = reply.comment;
          lastDecision.textContent = reply.message;
          undoForm.hidden = false;
        } else if (reply.gone) {
          outcome(card, reply.message);
        } else {
          card.classList.remove("is-decided");
          outcome(card, null);
          show(card);
        }
      })
      .finally(whenAllSent);
  }

  function undo() {
    sending += 1;
    queue = queue
      .then(() => {
        if (undoForm.hidden) return { ok: false, message: "There is no decision to undo." };
        const body = new FormData(undoForm);
        undoForm.hidden = true;
        return post(undoForm.action, body);
      })
      .then((reply) => {
        say(reply.message);
        if (!reply.ok) return;
        const card = document.getElementById(`card-${reply.comment}`);
        if (!card) {
          window.location.assign(window.location.pathname + window.location.search);
          return;
        }
        card.classList.remove("is-decided");
        outcome(card, null);
        show(card);
      })
      .finally(() => {
        sending -= 1;
      });
  }

  function openPicker(card, key) {
    const picker = card.querySelector(`.desk-picker[data-key="${key}"]`);
    if (!picker) {
      say(card.querySelector(".desk-decisions .desk-quiet")?.textContent || "Not possible here.");
      return;
    }
    closePickers(card);
    picker.open = true;
    picker.querySelector('input[name="preset"]').focus();
  }

  function hasReason(form) {
    return form.querySelector('input[name="preset"]:checked') || form.elements.reason.value.trim();
  }

  // Keys inside an open list of reasons: a digit picks and sends, Enter sends the
  // reason chosen or written, Escape closes the list and returns to the card.
  function pickerKey(event, picker) {
    const form = picker.querySelector("form");
    const target = event.target;
    if (event.key === "Escape") {
      picker.open = false;
      show(picker.closest(".desk-card"));
    } else if (/^[1-9]$/.test(event.key) && !target.matches('input[type="text"], select')) {
      const radio = form.querySelectorAll('input[name="preset"]')[Number(event.key) - 1];
      if (!radio) return;
      radio.checked = true;
      form.requestSubmit();
    } else if (event.key === "Enter" && target.matches('input[type="radio"]')) {
      form.requestSubmit();
    } else {
      return;
    }
    event.preventDefault();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const target = event.target;
    const picker = target.closest?.(".desk-picker");
    if (picker?.open && desk.contains(picker)) {
      pickerKey(event, picker);
      return;
    }
    if (target.matches?.("input, textarea, select, [contenteditable]")) return;
    const card = target.closest?.(".desk-card") || current;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "?") {
      help.open = !help.open;
    } else if (key === "u") {
      undo();
    } else if (!card) {
      return;
    } else if (key === "j") {
      show(neighbour(card, 1));
    } else if (key === "k") {
      show(neighbour(card, -1));
    } else if (key === "a" || key === "s") {
      const form = card.querySelector(".desk-quick");
      form.requestSubmit(form.querySelector(`[value="${key === "a" ? "approve" : "spam"}"]`));
    } else if (key === "r" || key === "b") {
      if (isOpen(card)) openPicker(card, key);
      else say("Already decided. Press u to undo the last decision.");
    } else {
      return;
    }
    event.preventDefault();
  });

  desk.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    if (form === undoForm) {
      undo();
    } else if (form.closest(".desk-picker") && !hasReason(form)) {
      say("Choose a reason (a digit) or write one.");
    } else {
      decide(form, event.submitter);
    }
  });

  desk.addEventListener("focusin", (event) => {
    const card = event.target.closest(".desk-card");
    if (card && card !== current) {
      current = card;
      for (const each of cards) each.classList.toggle("is-current", each === card);
    }
  });

  // Start at the card the address names (after a decision without JavaScript), else
  // at the first, leaving the page where it is: the summary above stays in view.
  const named = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (cards.includes(named)) show(named);
  else show(cards.find(isOpen), { scroll: false });
})();
