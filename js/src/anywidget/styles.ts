// The views' stylesheet, added once per page however many widgets show.
import forms from "../views/forms.css";
import views from "../views/views.css";

const css = `${views}\n${forms}`;

const ID = "proteiniq-views-style";

export function ensureStyles(): void {
  if (document.getElementById(ID) !== null) return;
  const style = document.createElement("style");
  style.id = ID;
  style.textContent = css;
  document.head.appendChild(style);
}
