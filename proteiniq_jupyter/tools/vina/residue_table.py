"""The residue names the receptor checks rely on, owned by this package so that a
file gets the same answer at submit wherever it is submitted, with or without the
docking libraries installed.

- ``MEEKO_TEMPLATES``: the residue names meeko 0.8 has a chemical template for (the
  names of its ``residue_chem_templates.json``, without its variant suffixes);
- ``MODIFIED_PARENTS``: modified amino acids and the standard residue that replaces
  them (PDBFixer 1.12's table, MIT); a modified amino acid not in it takes the
  parent gemmi's residue table gives (``modified_parent``).

tests/tools/test_vina_structures.py checks both against the installed libraries.
"""

from __future__ import annotations

import functools

import gemmi

_MEEKO_NAMES = """
    13P 1MA 1MG 1MI 26A 27G 2MA 2MG 2RG 3AU 3MC 3MP 3MU 4AC 4MC 5CU 5DU 5FC 5HU 5MC
    5MU 66A 6GA 6IA 6MA 6TA 7MG A A3 A5 A5p ACE ALA ALY AMP ARG ASH ASN ASP AZF BCU
    BR BUG C C3 C5 C5p CA CALA CARG CASH CASN CASP CCYS CCYX CGLH CGLN CGLU CGLY
    CHID CHIE CHIP CILE CL CLEU CLYN CLYS CMET CMP CMU CN CNX CPHE CPRO CSER CTHR
    CTRP CTYR CU CVAL CYF CYM CYS CYX DA DA3 DA5 DA5p DAG DAN DC DC3 DC5 DC5p DCN DG
    DG3 DG5 DG5p DGN DHU DMA DMG DMU DT DT3 DT5 DT5p DTN DWG EQG F FE G G3 G5 G5p
    GLH GLN GLU GLY GMP H1D H2D H2E HCU HIA HID HIE HIP HIS HMC HNA HOH HWG HYP I
    ILE INO IWG K2C LEU LYN LYS M1G M2A M3U M4C MAU MCU MET MEU MFC MG MMA MMG MMI
    MMU MN MRA MRC MRG MRI MRP MRU MTA MTB MTG N2G NALA NARG NASH NASN NASP NCYS
    NCYX NGLH NGLN NGLU NGLY NHE NHID NHIE NHIP NILE NLE NLEU NLYN NLYS NME NMET
    NPHE NPRO NSER NTHR NTRP NTYR NVAL OAU OCU OEU OHE OMU PBG PHE PRO PSU PTR QGG
    QMG QUG RA RC RG RU S1P SEP SER SIA SMA SPA STA T1P THR TPO TRP TYR U U3 U5 U5p
    UMP VAL WBG WMG Y1P ZN
"""
MEEKO_TEMPLATES = frozenset(_MEEKO_NAMES.split())

MODIFIED_PARENTS = {
    "2AS": "ASP",
    "3AH": "HIS",
    "5HP": "GLU",
    "5OW": "LYS",
    "ACL": "ARG",
    "AGM": "ARG",
    "AIB": "ALA",
    "ALM": "ALA",
    "ALO": "THR",
    "ALY": "LYS",
    "ARM": "ARG",
    "ASA": "ASP",
    "ASB": "ASP",
    "ASK": "ASP",
    "ASL": "ASP",
    "ASQ": "ASP",
    "AYA": "ALA",
    "BCS": "CYS",
    "BHD": "ASP",
    "BMT": "THR",
    "BNN": "ALA",
    "BUC": "CYS",
    "BUG": "LEU",
    "C5C": "CYS",
    "C6C": "CYS",
    "CAS": "CYS",
    "CCS": "CYS",
    "CEA": "CYS",
    "CGU": "GLU",
    "CHG": "ALA",
    "CLE": "LEU",
    "CME": "CYS",
    "CSD": "ALA",
    "CSO": "CYS",
    "CSP": "CYS",
    "CSS": "CYS",
    "CSW": "CYS",
    "CSX": "CYS",
    "CXM": "MET",
    "CY1": "CYS",
    "CY3": "CYS",
    "CYG": "CYS",
    "CYM": "CYS",
    "CYQ": "CYS",
    "DAH": "PHE",
    "DAL": "ALA",
    "DAR": "ARG",
    "DAS": "ASP",
    "DCY": "CYS",
    "DGL": "GLU",
    "DGN": "GLN",
    "DHA": "ALA",
    "DHI": "HIS",
    "DIL": "ILE",
    "DIV": "VAL",
    "DLE": "LEU",
    "DLY": "LYS",
    "DNP": "ALA",
    "DPN": "PHE",
    "DPR": "PRO",
    "DSN": "SER",
    "DSP": "ASP",
    "DTH": "THR",
    "DTR": "TRP",
    "DTY": "TYR",
    "DVA": "VAL",
    "EFC": "CYS",
    "FLA": "ALA",
    "FME": "MET",
    "GGL": "GLU",
    "GL3": "GLY",
    "GLZ": "GLY",
    "GMA": "GLU",
    "GSC": "GLY",
    "HAC": "ALA",
    "HAR": "ARG",
    "HIC": "HIS",
    "HIP": "HIS",
    "HMR": "ARG",
    "HPQ": "PHE",
    "HTR": "TRP",
    "HYP": "PRO",
    "IAS": "ASP",
    "IIL": "ILE",
    "IYR": "TYR",
    "KCX": "LYS",
    "LLP": "LYS",
    "LLY": "LYS",
    "LTR": "TRP",
    "LYM": "LYS",
    "LYZ": "LYS",
    "MAA": "ALA",
    "MEN": "ASN",
    "MHS": "HIS",
    "MIS": "SER",
    "MK8": "LEU",
    "MLE": "LEU",
    "MPQ": "GLY",
    "MSA": "GLY",
    "MSE": "MET",
    "MVA": "VAL",
    "NEM": "HIS",
    "NEP": "HIS",
    "NLE": "LEU",
    "NLN": "LEU",
    "NLP": "LEU",
    "NMC": "GLY",
    "OAS": "SER",
    "OCS": "CYS",
    "OMT": "MET",
    "PAQ": "TYR",
    "PCA": "GLU",
    "PEC": "CYS",
    "PHI": "PHE",
    "PHL": "PHE",
    "PR3": "CYS",
    "PRR": "ALA",
    "PTR": "TYR",
    "PYX": "CYS",
    "SAC": "SER",
    "SAR": "GLY",
    "SCH": "CYS",
    "SCS": "CYS",
    "SCY": "CYS",
    "SEL": "SER",
    "SEP": "SER",
    "SET": "SER",
    "SHC": "CYS",
    "SHR": "LYS",
    "SMC": "CYS",
    "SOC": "CYS",
    "STY": "TYR",
    "SVA": "SER",
    "TIH": "ALA",
    "TPL": "TRP",
    "TPO": "THR",
    "TPQ": "ALA",
    "TRG": "LYS",
    "TRO": "TRP",
    "TYB": "TYR",
    "TYI": "TYR",
    "TYQ": "TYR",
    "TYS": "TYR",
    "TYY": "TYR",
}


@functools.cache
def modified_parent(name: str) -> str | None:
    """The standard amino acid a modified one stands for: PDBFixer's table first,
    then gemmi's (which writes a modified residue's parent as its one-letter code
    in lower case: MSE is "m")."""
    if name in MODIFIED_PARENTS:
        return MODIFIED_PARENTS[name]
    info = gemmi.find_tabulated_residue(name)
    if info is None or not info.is_amino_acid() or info.is_standard():
        return None
    code = info.one_letter_code
    if not code.islower():
        return None
    return _STANDARD_BY_LETTER.get(code.upper())


_STANDARD_BY_LETTER = {
    "A": "ALA",
    "C": "CYS",
    "D": "ASP",
    "E": "GLU",
    "F": "PHE",
    "G": "GLY",
    "H": "HIS",
    "I": "ILE",
    "K": "LYS",
    "L": "LEU",
    "M": "MET",
    "N": "ASN",
    "P": "PRO",
    "Q": "GLN",
    "R": "ARG",
    "S": "SER",
    "T": "THR",
    "V": "VAL",
    "W": "TRP",
    "Y": "TYR",
}
