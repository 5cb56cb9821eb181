// @mention autocomplete for a textarea: typing "@" and letters offers matching teammates in a
// listbox; arrows move, Enter or Tab inserts "@handle ", Escape closes. The server resolves
// handles (email local part, full name without spaces, or a unique first name).

const TOKEN = /(^|\s)@([\p{L}\p{N}._-]*)$/u;

export function setupMentions(input, listNode, people) {
  let options = [];
  let active = -1;
  let start = -1;

  function close() {
    options = [];
    active = -1;
    listNode.hidden = true;
    input.removeAttribute("aria-activedescendant");
  }

  function render() {
    listNode.replaceChildren(
      ...options.map((person, index) => {
        const li = document.createElement("li");
        li.id = `mention-option-${person.id}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(index === active));
        li.dataset.handle = person.handle;
        const name = document.createElement("span");
        name.textContent = person.name;
        const handle = document.createElement("span");
        handle.className = "muted";
        handle.textContent = ` @${person.handle}`;
        li.append(name, handle);
        li.addEventListener("mousedown", (event) => {
          event.preventDefault(); // keep focus in the textarea
          choose(index);
        });
        return li;
      }),
    );
    listNode.hidden = false;
    input.setAttribute("aria-activedescendant", `mention-option-${options[active].id}`);
  }

  function update() {
    const before = input.value.slice(0, input.selectionStart);
    const match = before.match(TOKEN);
    if (!match) return close();
    const query = match[2].toLowerCase();
    start = before.length - match[2].length - 1;
    options = people
      .filter((p) => p.name.toLowerCase().split(/\s+/).some((part) => part.startsWith(query)) || p.handle.toLowerCase().startsWith(query) || p.name.toLowerCase().startsWith(query))
      .slice(0, 8);
    if (!options.length) return close();
    active = 0;
    render();
  }

  function choose(index) {
    const person = options[index];
    if (!person) return;
    const caret = input.selectionStart;
    const insert = `@${person.handle} `;
    input.value = input.value.slice(0, start) + insert + input.value.slice(caret);
    const at = start + insert.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  }

  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", () => window.setTimeout(close, 100));

  return {
    // true when the key was for the open list (the caller then does nothing else with it)
    handleKey(event) {
      if (listNode.hidden || !options.length) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        render();
      } else if (event.key === "Enter" || event.key === "Tab") {
        choose(active);
      } else if (event.key === "Escape") {
        close();
      } else {
        return false;
      }
      event.preventDefault();
      return true;
    },
  };
}
