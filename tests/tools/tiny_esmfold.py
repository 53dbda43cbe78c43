"""A tiny random-weight ESMFold saved as transformers saves the real one, so tests and
benchmarks load it through the tool's own path (``PIQ_ESMFOLD_MODEL`` -> directory).

Its shape is ESMFold v1's (ESM-2 with rotary positions feeding the folding trunk and
structure module), only narrow and shallow: it builds and loads in well under a
second and folds a few hundred residues in seconds on a CPU. Its structures are
nonsense; its outputs have the real model's form.

From a script::

    from tests.tools.tiny_esmfold import build_tiny_esmfold
    directory = build_tiny_esmfold(Path("/tmp/tiny-esmfold"))
    os.environ["PIQ_ESMFOLD_MODEL"] = str(directory)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: ESMFold v1 recycles 4 times by default (``max_recycles``); the tiny model keeps it.
TINY_MAX_RECYCLES = 4
#: The ESM-2 vocabulary, in token-id order, as ESMFold v1's vocab.txt lists it.
ESM_VOCAB = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H",
    "W", "C", "X", "B", "U", "Z", "O", ".", "-",
    "<null_1>", "<mask>",
)  # fmt: skip


def tiny_config(**trunk: Any) -> Any:
    """An EsmConfig for a folding model: 2 ESM layers of width 32, one trunk block."""
    from transformers import EsmConfig

    vocab = list(ESM_VOCAB)
    structure_module = {
        "sequence_dim": 32,
        "pairwise_dim": 16,
        "ipa_dim": 8,
        "resnet_dim": 16,
        "num_heads_ipa": 2,
        "num_qk_points": 2,
        "num_v_points": 2,
        "num_blocks": 2,
        "num_transition_layers": 1,
        "num_resnet_blocks": 1,
    }
    trunk_config = {
        "num_blocks": 1,
        "sequence_state_dim": 32,
        "pairwise_state_dim": 16,
        "sequence_head_width": 16,
        "pairwise_head_width": 8,
        "position_bins": 8,
        "max_recycles": TINY_MAX_RECYCLES,
        "chunk_size": None,
        "structure_module": structure_module,
        **trunk,
    }
    return EsmConfig(
        vocab_size=len(vocab),
        vocab_list=vocab,
        pad_token_id=vocab.index("<pad>"),
        mask_token_id=vocab.index("<mask>"),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        position_embedding_type="rotary",
        token_dropout=True,
        emb_layer_norm_before=False,
        is_folding_model=True,
        esmfold_config={"fp16_esm": False, "lddt_head_hid_dim": 16, "trunk": trunk_config},
    )


def build_tiny_esmfold(directory: Path, *, seed: int = 0, **trunk: Any) -> Path:
    """Save a tiny random ESMFold and its tokenizer into ``directory`` (config.json,
    model.safetensors, vocab.txt ...) and return it. ``trunk`` overrides trunk fields."""
    import torch
    from transformers import EsmForProteinFolding, EsmTokenizer

    config = tiny_config(**trunk)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = EsmForProteinFolding(config)
    with torch.no_grad():
        # Random init leaves the pLDDT head near uniform (every residue 50); wider
        # weights spread it per residue and per atom, as a trained head's would be.
        for layer in model.lddt_head:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, 3.0 / layer.in_features**0.5)
    model.save_pretrained(directory)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(config.vocab_list) + "\n", encoding="utf-8")
    EsmTokenizer.from_pretrained(directory).save_pretrained(directory)
    return directory
