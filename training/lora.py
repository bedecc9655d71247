"""Low-rank adapters (LoRA) on the top blocks of a reader's encoder, and an answerability head.

A 110M-parameter reader cannot keep its full weights and AdamW moments in the repository (1.3 GB a save);
LoRA trains two small matrices beside each frozen linear layer of the top ``layers`` encoder blocks
(``W x + B A x * alpha / rank``), so a save is the adapters, the span head and the answerability head with
their moments: about 20 MB for all-mpnet-base-v2 at rank 16 on its top 8 blocks. ``merge_lora`` folds the
adapters back into plain ``nn.Linear`` layers for export: the exported graph is the base architecture.

The answerability head (``add_answerability_head``) is one linear layer over the first token's final hidden
state, trained with a binary loss on whether the window holds the answer: a second, learnt no-answer
signal beside the span head's [CLS] margin (Retro-Reader's "sketchy reading" inside the same encoder).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

ANSWERABILITY = "answerability"


class LoRALinear(nn.Module):
    """``base(x) + dropout(x) @ A.T @ B.T * alpha / rank`` with ``base`` frozen; B starts at zero, so the
    wrapped layer starts as the base layer."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_a.T @ self.lora_b.T) * self.scale

    def merged(self) -> nn.Linear:
        """A plain linear layer computing the same function (in eval mode)."""
        layer = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(self.base.weight + (self.lora_b @ self.lora_a) * self.scale)
            if self.base.bias is not None:
                layer.bias.copy_(self.base.bias)
        return layer


def encoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT- or MPNet-style model (``model.base_model.encoder.layer``)."""
    blocks = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if not isinstance(blocks, nn.ModuleList):
        raise ValueError(f"{type(model).__name__} has no encoder.layer blocks to adapt")
    return blocks


def add_lora(model: nn.Module, *, rank: int, layers: int, alpha: float, dropout: float) -> list[str]:
    """Freeze ``model`` except its span head (``qa_outputs``) and wrap every linear layer of its top
    ``layers`` blocks in a ``LoRALinear``. Returns the wrapped layers' names."""
    blocks = encoder_blocks(model)
    if not 0 < layers <= len(blocks):
        raise ValueError(f"--lora-layers must be 1..{len(blocks)}, not {layers}")
    model.requires_grad_(False)
    wrapped = []
    for index in range(len(blocks) - layers, len(blocks)):
        for name, module in list(blocks[index].named_modules()):
            for child_name, child in list(module.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(module, child_name, LoRALinear(child, rank, alpha, dropout))
                    wrapped.append(f"layer.{index}.{name + '.' if name else ''}{child_name}")
    model.qa_outputs.requires_grad_(True)
    return wrapped


def merge_lora(model: nn.Module) -> int:
    """Replace every ``LoRALinear`` in ``model`` by its merged linear layer; returns how many."""
    count = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.merged())
                count += 1
    return count


def add_answerability_head(model: Any) -> nn.Linear:
    """Attach a trainable ``answerability`` head (hidden size -> 1) to ``model``; zero-initialised, so it
    starts undecided (logit 0)."""
    head = nn.Linear(int(model.config.hidden_size), 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    model.add_module(ANSWERABILITY, head)
    return head


def read_batch(model: Any, batch: dict[str, torch.Tensor]) -> SimpleNamespace:
    """One forward pass: start and end logits from the span head and, when the model has an answerability
    head, its logit per window (``None`` otherwise). Targets in ``batch`` are ignored here."""
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    head = getattr(model, ANSWERABILITY, None)
    if not isinstance(head, nn.Module):
        outputs = model(**inputs)
        return SimpleNamespace(start_logits=outputs.start_logits, end_logits=outputs.end_logits, answerable_logits=None)
    hidden = model.base_model(**inputs)[0]
    logits = model.get_submodule("qa_outputs")(hidden)
    start, end = logits[..., 0].contiguous(), logits[..., 1].contiguous()
    return SimpleNamespace(start_logits=start, end_logits=end, answerable_logits=head(hidden[:, 0]).squeeze(-1))


def reader_loss(outputs: SimpleNamespace, batch: dict[str, torch.Tensor], answerability_weight: float) -> torch.Tensor:
    """Span cross-entropy (start and end averaged, as transformers' QA heads compute it) plus
    ``answerability_weight`` x the head's binary cross-entropy on "the window holds the answer" (a target
    span off the [CLS] token)."""
    cross_entropy = nn.functional.cross_entropy
    start, end = outputs.start_logits.float(), outputs.end_logits.float()
    loss = (cross_entropy(start, batch["start_positions"]) + cross_entropy(end, batch["end_positions"])) / 2
    if outputs.answerable_logits is not None and answerability_weight:
        target = (batch["start_positions"] > 0).float()
        loss = loss + answerability_weight * nn.functional.binary_cross_entropy_with_logits(
            outputs.answerable_logits.float(), target
        )
    return loss


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable tensors by name: what a LoRA run saves instead of the whole model."""
    return {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable tensors into ``model``; every trainable parameter must be there, and nothing else."""
    params = dict(model.named_parameters())
    wanted = {name for name, p in params.items() if p.requires_grad}
    if set(tensors) != wanted:
        missing, extra = sorted(wanted - set(tensors)), sorted(set(tensors) - wanted)
        raise ValueError(f"saved adapters do not match the model: missing {missing[:3]}, unexpected {extra[:3]}")
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value)
