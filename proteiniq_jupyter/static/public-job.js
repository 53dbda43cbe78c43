// Draws the job's structure with the bundled 3Dmol.js, from the file the page names.
// A docking job's page also names its poses (SD records, each with a "pose" data
// item): they are drawn over the receptor one pose at a time, as the picker chooses.
(function () {
  const el = document.getElementById("viewer");
  if (!el || typeof $3Dmol === "undefined") return;
  const text = (url) =>
    fetch(url).then((response) => {
      if (!response.ok) throw new Error(`${url}: ${response.status}`);
      return response.text();
    });
  const posesUrl = el.dataset.posesUrl;
  Promise.all([text(el.dataset.url), posesUrl ? text(posesUrl) : null]).then(
    ([structure, poses]) => {
      const viewer = $3Dmol.createViewer(el, { backgroundColor: "white" });
      const model = viewer.addModel(structure, el.dataset.format);
      if (poses !== null) {
        showPoses(viewer, model, poses);
      } else {
        viewer.setStyle({}, { cartoon: { color: "spectrum" } });
        viewer.setStyle({ hetflag: true }, { stick: {} });
        if (el.dataset.format !== "pdb" && el.dataset.format !== "cif") {
          viewer.setStyle({}, { stick: {} });
        }
        viewer.zoomTo();
        viewer.render();
      }
      el.dataset.rendered = String(model.selectedAtoms({}).length);
    },
  );

  // The pose an SD record belongs to: its "> <pose>" data item.
  function poseOf(record) {
    const found = /^>\s*<pose>[^\n]*\n([^\n]*)/m.exec(record);
    return found ? found[1].trim() : "";
  }

  function showPoses(viewer, receptor, poses) {
    receptor.setStyle({}, { cartoon: { color: "#b8c4d6", opacity: 0.75 } });
    const byPose = new Map();
    const all = [];
    for (const chunk of poses.split(/^\$\$\$\$[ \t]*\r?$/m)) {
      const record = chunk.replace(/^\r?\n/, "");
      if (!record.trim()) continue;
      const ligand = viewer.addModel(`${record}\n$$$$\n`, "sdf");
      ligand.setStyle({}, { stick: { colorscheme: "greenCarbon", radius: 0.25 } });
      const pose = poseOf(record);
      if (!byPose.has(pose)) byPose.set(pose, []);
      byPose.get(pose).push(ligand);
      all.push(ligand);
    }
    const picker = document.getElementById("pose");
    const show = (chosen) => {
      for (const [pose, ligands] of byPose) {
        for (const ligand of ligands) {
          if (pose === chosen) ligand.show();
          else ligand.hide();
        }
      }
      el.dataset.pose = chosen;
      viewer.render();
    };
    // The site: every pose in view, with the receptor around it.
    viewer.zoomTo({ model: all });
    viewer.zoom(0.6);
    show(picker ? picker.value : byPose.keys().next().value);
    if (picker) picker.addEventListener("change", () => show(picker.value));
    el.dataset.poses = String(byPose.size);
  }
})();
