"""Extractive QA over short documents: the intermediate task synth_squad (SQuAD 2.0, with
unanswerable questions) and the target synth_xquad (XQuAD: the same English-trained skill,
tested on the same documents and questions in every language).

A question is a cloze: a clause of the document with its subject or its object replaced by
"?" ("? saw the fox in the park"), rendered in the document's language; the answer is that
constituent's words in the context, at their exact character offset. A question is only asked
about a clause that no other clause of the document could answer, so every answer is unique.
An unanswerable question changes a stated clause's verb to one the document never uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from trainers.synth import lexicon as lx
from trainers.synth.corpus import CORPUS_RATES, document
from trainers.synth.grammar import Clause
from trainers.synth.languages import Language

BLANK = "?"
UNANSWERABLE_RATE = 1 / 3  # synth_squad only, as in SQuAD 2.0's training set


@dataclass(frozen=True)
class Question:
    clause: Clause
    asks: str  # "subject" or "object"
    answerable: bool


@dataclass(frozen=True)
class Document:
    sentences: list[tuple[list[Clause], bool]]
    questions: list[Question]


def documents(rng: random.Random, n_questions: int, unanswerable_rate: float) -> list[Document]:
    """Documents with one or two questions each, `n_questions` in all."""
    docs: list[Document] = []
    asked = 0
    while asked < n_questions:
        sentences = document(rng, CORPUS_RATES)
        clauses = [c for clause_list, _ in sentences for c in clause_list]
        questions = []
        for _ in range(min(rng.randint(1, 2), n_questions - asked)):
            if rng.random() < unanswerable_rate:
                # SQuAD 2.0's kind: plausible (a stated clause), but with a verb the document
                # never uses, so no clause answers it.
                verbs = [v for v in lx.VERBS if v not in {c.verb for c in clauses}]
                if verbs:
                    changed = replace(rng.choice(clauses), verb=rng.choice(verbs))
                    questions.append(Question(changed, rng.choice(("subject", "object")), False))
                continue
            asks = rng.choice(("subject", "object"))
            taken = {id(q.clause) for q in questions if q.asks == asks}
            unique = [c for c in clauses if id(c) not in taken and _is_unique(c, asks, clauses)]
            if unique:
                questions.append(Question(rng.choice(unique), asks, True))
        if questions:
            docs.append(Document(sentences, questions))
            asked += len(questions)
    return docs


def _is_unique(clause: Clause, asks: str, clauses: list[Clause]) -> bool:
    """No other clause of the document matches the question's remaining parts."""
    same = [c for c in clauses if _without(c, asks) == _without(clause, asks)]
    return len(same) == 1


def _without(clause: Clause, asks: str) -> tuple:
    kept = clause.obj if asks == "subject" else clause.subject
    return (kept, clause.verb, clause.past, clause.negated, clause.place, clause.adverb)


def squad_paragraph(language: Language, doc: Document, qid_prefix: str) -> dict:
    """One SQuAD paragraph: the context and its questions with exact answer offsets."""
    context, spans = _context(language, doc.sentences)
    qas = []
    for n, q in enumerate(doc.questions):
        qa: dict = {"id": f"{qid_prefix}-{n}", "question": _question(language, q)}
        if q.answerable:
            start, end = spans[(id(q.clause), q.asks)]
            qa["answers"] = [{"text": context[start:end], "answer_start": start}]
        else:
            qa["answers"] = []
        qa["is_impossible"] = not q.answerable
        qas.append(qa)
    return {"context": context, "qas": qas}


def _context(language: Language, sentences) -> tuple[str, dict]:
    """The rendered document, and each clause's subject/object character spans in it."""
    text = ""
    spans: dict[tuple[int, str], tuple[int, int]] = {}
    for clauses, contrast in sentences:
        words: list[str] = []
        marks: list[tuple[int, str, int, int]] = []  # (clause id, part, first word, last word)
        for i, clause in enumerate(clauses):
            if i:
                words.append(language.conjunction(contrast))
            parts = language.parts(clause)
            for key in language.order:
                if key in ("subject", "object") and parts[key]:
                    marks.append((id(clause), key, len(words), len(words) + len(parts[key])))
                words.extend(w for w, _ in parts[key])
        words.append(".")
        words[0] = words[0][:1].upper() + words[0][1:]
        starts = []
        offset = len(text) + (1 if text else 0)
        for word in words:
            starts.append(offset)
            offset += len(word) + 1
        for clause_id, key, first, last in marks:
            spans[(clause_id, key)] = (starts[first], starts[last - 1] + len(words[last - 1]))
        text = (text + " " if text else "") + " ".join(words)
    return text, spans


def _question(language: Language, q: Question) -> str:
    parts = language.parts(q.clause)
    words = []
    for key in language.order:
        words.extend([BLANK] if key == q.asks else [w for w, _ in parts[key]])
    return " ".join(words)
