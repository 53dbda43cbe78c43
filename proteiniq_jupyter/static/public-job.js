// Draws the job's structure with the bundled 3Dmol.js, from the file the page names.
(function () {
  const el = document.getElementById("viewer");
  if (!el || typeof $3Dmol === "undefined") return;
  fetch(el.dataset.url)
    .then((response) => response.text())
    .then((text) => {
      const viewer = $3Dmol.createViewer(el, { backgroundColor: "white" });
      viewer.addModel(text, el.dataset.format);
      viewer.setStyle({}, { cartoon: { color: "spectrum" } });
      viewer.setStyle({ hetflag: true }, { stick: {} });
      if (el.dataset.format !== "pdb" && el.dataset.format !== "cif") {
        viewer.setStyle({}, { stick: {} });
      }
      viewer.zoomTo();
      viewer.render();
      el.dataset.rendered = String(viewer.getModel().selectedAtoms({}).length);
    });
})();
