"""AutoDock Vina docking: a receptor prepared with meeko, ligands from SMILES or SDF,
and a box given by coordinates, a reference ligand or receptor residues.

vina and meeko are the optional ``docking`` extra, so they are imported inside the
functions that use them: the catalogue lists the tool where they are missing, and a
job then fails before it starts, uncharged, naming what to install.

The expensive steps are plain functions (``prepare_receptor``, ``prepare_ligand``,
``dock``) so they can be timed and compared with the bare Vina API on their own.

The package's modules: ``settings`` (slots, settings and errors every part shares),
``receptor`` (reading and checks), ``residues`` (what happens to each residue),
``repair`` (PDBFixer), ``preparation`` (meeko and the cache), ``ligands``, ``box``,
``docking``, and ``tool`` (``AutodockVina``).
"""

from .box import Box, reference_points
from .docking import (
    DockingResult,
    Pose,
    available_cpus,
    complex_pdb,
    dock,
    pose_molecules,
    poses_sdf,
    vina_cpus,
)
from .ligands import Ligand, prepare_ligand, read_ligands
from .preparation import (
    RECEPTOR_CACHE,
    PreparedReceptor,
    ReceptorOptions,
    cached_receptor,
    prepare_receptor,
    prepare_receptor_reported,
    receptor_cache_key,
    residue_templates,
)
from .receptor import PdbAtom, pdb_atoms
from .repair import RepairReport
from .settings import PreparationError, VinaSettings
from .tool import INSTALL_HINT, AutodockVina

__all__ = [
    "INSTALL_HINT",
    "RECEPTOR_CACHE",
    "AutodockVina",
    "Box",
    "DockingResult",
    "Ligand",
    "PdbAtom",
    "Pose",
    "PreparationError",
    "PreparedReceptor",
    "ReceptorOptions",
    "RepairReport",
    "VinaSettings",
    "available_cpus",
    "cached_receptor",
    "complex_pdb",
    "dock",
    "pdb_atoms",
    "pose_molecules",
    "poses_sdf",
    "prepare_ligand",
    "prepare_receptor",
    "prepare_receptor_reported",
    "read_ligands",
    "receptor_cache_key",
    "reference_points",
    "residue_templates",
    "vina_cpus",
]
