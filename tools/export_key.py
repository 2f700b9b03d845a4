"""What an export of tools/export_models.py was made from, recorded in its meta.json so that a
later run reuses it only while that is unchanged:

- the exporter's version: a SHA-256 over export_models.py and every module of tools/ it imports,
  directly or not (found by reading their import statements, so a new helper module cannot be
  forgotten), together with the list of those files;
- the checkpoint (path, size, mtime, SHA-256), or the seed of random weights;
- the other files the export read (BERT's config.json, vocabulary and tokenizer_config.json).

src/bench/model_cache.cpp checks the same fields with the same digests: it re-hashes the files that
meta.json lists as the exporter's sources. Standard library only, so that checking is cheap.
"""
import ast
import hashlib
import os

TOOLS = os.path.dirname(os.path.abspath(__file__))


def exporter_sources(entry="export_models.py", tools=TOOLS):
    """`entry` and the modules of `tools` it imports, directly or not: sorted file names."""
    found, pending = set(), [entry]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        with open(os.path.join(tools, name), "rb") as f:
            tree = ast.parse(f.read(), filename=name)
        for node in ast.walk(tree):  # imports inside functions count too
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                candidate = module.split(".")[0] + ".py"
                if os.path.isfile(os.path.join(tools, candidate)):
                    pending.append(candidate)
    return sorted(found)


def exporter_version(sources, tools=TOOLS):
    """SHA-256 over each file's name, size and bytes, in order (model_cache.cpp computes the same)."""
    digest = hashlib.sha256()
    for name in sources:
        with open(os.path.join(tools, name), "rb") as f:
            data = f.read()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def exporter(entry="export_models.py", tools=TOOLS):
    sources = exporter_sources(entry, tools)
    return {"version": exporter_version(sources, tools), "sources": sources}


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_identity(path):
    """Where a file is, its size, its mtime (ns, as os.stat gives it) and its content's SHA-256."""
    st = os.stat(path)
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": file_sha256(path)}


def record(weights, seed, files_read=(), entry="export_models.py", tools=TOOLS):
    """meta.json's key fields for an export of `weights` (None: random weights of `seed`). Taken
    before the export starts, so that an edit made meanwhile makes it stale; files_read can be set
    at the end."""
    return {
        "random_weights": weights is None,
        "seed": seed if weights is None else None,
        "checkpoint": file_identity(weights) if weights else None,
        "files_read": [file_identity(f) for f in files_read],
        "exporter": exporter(entry, tools),
    }


def stale_reason(meta, weights, seed, entry="export_models.py", tools=TOOLS):
    """Why an existing export's meta.json does not match an export of `weights` (None: random
    weights of `seed`) by the current exporter, or "" when it does."""
    recorded = meta.get("exporter") or {}
    if "version" not in recorded:
        return "it records no exporter version (made by an older exporter)"
    if recorded["version"] != exporter(entry, tools)["version"]:
        return "the exporter changed since"
    if weights is None:
        if not meta.get("random_weights") or meta.get("seed") != seed:
            return f"it does not hold random weights of seed {seed}"
    else:
        checkpoint = meta.get("checkpoint") or {}
        if checkpoint.get("sha256") != file_sha256(weights):
            return f"{weights} changed since"
    for f in meta.get("files_read") or []:
        if not os.path.isfile(f.get("path", "")) or file_sha256(f["path"]) != f.get("sha256"):
            return f"{f.get('path')} changed since"
    return ""
