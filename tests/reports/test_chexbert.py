"""ChexbertLabeler on a tiny BERT built here: a CheXbert-shaped checkpoint (``bert.*`` and 14
``linear_heads``, DataParallel's ``module.`` prefix under ``model_state_dict``), a real
tokenizer and a real forward pass; the heads' biases fix each head's class, so the test knows
which label every output must become (CheXbert's order and class coding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxrpilot.errors import ModelLoadError
from cxrpilot.reports import ChexbertLabeler, get_labeler
from cxrpilot.vocabulary import OBSERVATIONS

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

#: CheXbert's head order: 13 heads of 4 classes (blank, positive, negative, uncertain), then
#: No Finding (blank, positive).
ORDER = [
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices", "No Finding",
]
#: The class each head is biased to, and the label that class means.
CLASSES = [1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1]
EXPECTED = {name: {0: None, 1: 1, 2: 0, 3: -1}[c] for name, c in zip(ORDER, CLASSES, strict=True)}
WORDS = ["no", "pneumothorax", "mild", "cardiomegaly", "effusion", "the", "lungs", "are", "clear", "."]


def write_checkpoint(folder: Path, *, heads: int = 14, wrapped: bool = True) -> Path:
    """A tiny CheXbert: BertConfig of 2 layers x 32 hidden, its tokenizer, ``chexbert.pth``."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    torch.manual_seed(0)
    bert = transformers.BertModel(config, add_pooling_layer=False)
    state = {f"bert.{k}": v for k, v in bert.state_dict().items()}
    for i in range(heads):
        width = 2 if i == 13 else 4
        state[f"linear_heads.{i}.weight"] = torch.zeros(width, config.hidden_size)
        bias = torch.zeros(width)
        bias[CLASSES[i % 14]] = 5.0
        state[f"linear_heads.{i}.bias"] = bias
    if wrapped:  # as CheXbert's training script saved it (DataParallel)
        state = {"model_state_dict": {f"module.{k}": v for k, v in state.items()}}
    torch.save(state, folder / "chexbert.pth")
    return folder


@pytest.fixture(scope="module")
def chexbert_dir(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("chexbert"))


@pytest.mark.parametrize("wrapped", [True, False])
def test_labels_follow_chexbert_order_and_coding(tmp_path, wrapped):
    labeler = get_labeler(f"chexbert:{write_checkpoint(tmp_path / 'm', wrapped=wrapped)}")
    assert isinstance(labeler, ChexbertLabeler)
    (labels,) = labeler(["FINDINGS: Mild cardiomegaly. No pneumothorax.\n\nIMPRESSION: No effusion."])
    assert list(labels) == list(OBSERVATIONS)
    assert labels == EXPECTED


def test_batches_keep_input_order_and_count(chexbert_dir):
    texts = ["No pneumothorax.", "", "The lungs are clear.", "Mild cardiomegaly.", "word-unknown-to-vocab"]
    labeler = ChexbertLabeler(chexbert_dir, batch_size=2)
    assert labeler(texts) == [EXPECTED] * len(texts)
    assert labeler([]) == []


def test_label_command_with_chexbert(chexbert_dir, tmp_path, capsys):
    from cxrpilot.cli import main

    report = tmp_path / "r1.txt"
    report.write_text("FINDINGS: No pneumothorax.\n")
    assert main(["label", str(report), "--labeler", f"chexbert:{chexbert_dir}", "--json"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["source"] == str(report) and record["labels"] == EXPECTED


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("heads", r"is not a CheXbert checkpoint: expected bert\.\* weights and 14 linear_heads, found \d+ bert tensors and 13 heads"),
        ("garbage", r"is not a readable torch checkpoint"),
    ],
)
def test_bad_checkpoints_are_refused_on_first_use(tmp_path, breakage, message):
    folder = write_checkpoint(tmp_path / "m", heads=13 if breakage == "heads" else 14)
    if breakage == "garbage":
        (folder / "chexbert.pth").write_bytes(b"not a checkpoint")
    labeler = ChexbertLabeler(folder)
    with pytest.raises(ModelLoadError, match=message):
        labeler(["No pneumothorax."])
