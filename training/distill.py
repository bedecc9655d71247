"""Distilling a reader into another whose tokenizer wraps question and passage differently.

The teacher (e.g. an all-mpnet-base-v2 reader: ``<s> q </s></s> c </s>``) reads the student's own training
windows (all-MiniLM-L6-v2: ``[CLS] q [SEP] c [SEP]``), rebuilt in its own template: both are the same
uncased WordPiece vocabulary (MPNet's ids are BERT's plus 4), so every question and passage token has one
teacher token, and the teacher's start/end logits are gathered back onto the student's positions. The
student then learns from ``alpha`` x the usual cross-entropy on the labelled span (or [CLS]) plus
``1 - alpha`` x the KL divergence to the teacher's softened start and end distributions (Hinton et al.
2015, as in DistilBERT's SQuAD recipe), no-answer [CLS] included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.squad_data import Windows


@dataclass(frozen=True)
class TeacherTemplate:
    """How a student window becomes a teacher window: ``id_map[student id]`` is the teacher's id of the same
    token; ``prefix``, ``middle`` and ``suffix`` are the teacher's special tokens before the question,
    between question and passage, and after the passage; ``student_prefix/middle/suffix`` count the
    student's."""

    id_map: np.ndarray
    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    pad_id: int
    student_prefix: int
    student_middle: int
    student_suffix: int


def _pair_layout(tokenizer) -> tuple[list[int], list[int], list[int]]:
    """(special ids before the first text, between the two texts, after the second) of ``tokenizer``'s
    pair template, read off an encoded pair."""
    encoded = tokenizer("a", "b")
    ids, sequence = encoded["input_ids"], encoded.sequence_ids(0)
    first = sequence.index(0)
    last_first = len(sequence) - 1 - sequence[::-1].index(0)
    second = sequence.index(1)
    last_second = len(sequence) - 1 - sequence[::-1].index(1)
    return ids[:first], ids[last_first + 1 : second], ids[last_second + 1 :]


def teacher_template(student_tokenizer, teacher_tokenizer, *, max_unmapped: float = 0.001) -> TeacherTemplate:
    """The template that rebuilds ``student_tokenizer``'s windows for ``teacher_tokenizer``. Raises
    ``ValueError`` when more than ``max_unmapped`` of the student's vocabulary has no teacher token (the
    two do not share a vocabulary, and distillation by position would be wrong)."""
    student_vocab, teacher_vocab = student_tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
    unknown = teacher_tokenizer.unk_token_id
    id_map = np.full(max(student_vocab.values()) + 1, unknown, dtype=np.int64)
    unmapped = 0
    for token, index in student_vocab.items():
        mapped = teacher_vocab.get(token)
        if mapped is None:
            unmapped += 1
        else:
            id_map[index] = mapped
    if unmapped > max_unmapped * len(student_vocab):
        raise ValueError(
            f"{unmapped} of the student's {len(student_vocab)} tokens are not in the teacher's vocabulary: "
            "distillation needs a teacher with the student's word pieces"
        )
    prefix, middle, suffix = _pair_layout(teacher_tokenizer)
    s_prefix, s_middle, s_suffix = _pair_layout(student_tokenizer)
    return TeacherTemplate(
        id_map,
        tuple(prefix),
        tuple(middle),
        tuple(suffix),
        int(teacher_tokenizer.pad_token_id),
        len(s_prefix),
        len(s_middle),
        len(s_suffix),
    )


def teacher_batch(
    windows: Windows, indices: np.ndarray, template: TeacherTemplate
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The teacher's inputs for the student windows ``indices`` and, for every position of the student's
    padded batch, the teacher position holding the same token (special tokens map to the teacher's first
    special token at that place; padding maps to 0 and is masked by the caller)."""
    width = max(len(windows.input_ids[i]) for i in indices)
    rows, positions = [], np.zeros((len(indices), width), dtype=np.int64)
    for row, i in enumerate(indices):
        ids = windows.input_ids[i].astype(np.int64)
        # Segment ids tell the question part ([CLS] q [SEP]: 0) from the passage part (c [SEP]: 1).
        first_part = int((windows.token_type_ids[i] == 0).sum())
        question = ids[template.student_prefix : first_part - template.student_middle]
        passage = ids[first_part : len(ids) - template.student_suffix]
        teacher_ids = [
            *template.prefix,
            *template.id_map[question],
            *template.middle,
            *template.id_map[passage],
            *template.suffix,
        ]
        rows.append(teacher_ids)
        q_start, c_start_student = template.student_prefix, first_part
        q_start_teacher = len(template.prefix)
        c_start_teacher = q_start_teacher + len(question) + len(template.middle)
        mapping = np.empty(len(ids), dtype=np.int64)
        mapping[:q_start] = np.minimum(np.arange(q_start), max(len(template.prefix) - 1, 0))
        mapping[q_start : q_start + len(question)] = q_start_teacher + np.arange(len(question))
        mapping[q_start + len(question) : c_start_student] = q_start_teacher + len(question)
        mapping[c_start_student : c_start_student + len(passage)] = c_start_teacher + np.arange(len(passage))
        mapping[c_start_student + len(passage) :] = c_start_teacher + len(passage)
        positions[row, : len(ids)] = mapping
    teacher_width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), teacher_width), template.pad_id, dtype=np.int64)
    attention = np.zeros((len(rows), teacher_width), dtype=np.int64)
    for row, teacher_ids in enumerate(rows):
        input_ids[row, : len(teacher_ids)] = teacher_ids
        attention[row, : len(teacher_ids)] = 1
    inputs = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention)}
    return inputs, torch.from_numpy(positions)


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher || student) of the softened distributions over each window's unmasked positions, times
    ``temperature``² (so its gradients keep their size as the temperature changes), averaged over windows."""
    hidden = torch.finfo(torch.float32).min / 4
    student = student.float().masked_fill(~mask, hidden) / temperature
    teacher = teacher.float().masked_fill(~mask, hidden) / temperature
    log_p_teacher = torch.log_softmax(teacher, dim=-1)
    log_p_student = torch.log_softmax(student, dim=-1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).masked_fill(~mask, 0.0).sum(-1)
    return kl.mean() * temperature**2
