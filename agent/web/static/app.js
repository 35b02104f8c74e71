// Workbench behaviour: evidence <-> criterion linking and the follow-up chat. No framework.
document.addEventListener("DOMContentLoaded", () => {
  const clear = () => document.querySelectorAll(".lit").forEach((el) => el.classList.remove("lit"));
  document.querySelectorAll("mark.ev").forEach((mark) => {
    mark.addEventListener("click", () => {
      clear();
      mark.classList.add("lit");
      const keys = (mark.dataset.keys || "").split(" ").filter((k) => k && k !== "injection");
      keys.forEach((key) => {
        const row = document.getElementById("crit-" + key.replace(":", "-"));
        if (row) row.classList.add("lit");
      });
      const first = document.getElementById("crit-" + (keys[0] || "").replace(":", "-"));
      if (first) first.scrollIntoView({ behavior: "smooth", block: "center" });
    });
  });
  document.querySelectorAll("a.evlink").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      clear();
      const mark = document.getElementById(link.dataset.target);
      if (!mark) return;
      mark.classList.add("lit");
      const row = link.closest("tr");
      if (row) row.classList.add("lit");
      mark.scrollIntoView({ behavior: "smooth", block: "center" });
    });
  });
  // Reading panel: a quote link lights every piece of its quote in the note and scrolls to the first.
  document.querySelectorAll("a.qlink").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      clear();
      const id = link.dataset.quote;
      const pieces = Array.from(document.querySelectorAll("mark[data-quotes]")).filter((m) => m.dataset.quotes.split(" ").includes(id));
      pieces.forEach((m) => m.classList.add("lit"));
      link.classList.add("lit");
      const first = pieces[0] || document.getElementById(link.dataset.target);
      if (!first) return;
      history.replaceState(null, "", "#" + first.id);
      first.scrollIntoView({ behavior: "smooth", block: "center" });
    });
  });
  const form = document.getElementById("ask-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(data), headers: { "X-CSRF-Token": data.get("csrf_token") } });
        const html = await response.text();
        document.getElementById("qa-log").insertAdjacentHTML("beforeend", html);
        form.querySelector("input[name=question]").value = "";
      } finally {
        button.disabled = false;
      }
    });
  }
});
