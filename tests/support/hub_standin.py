"""A stand-in for the Hugging Face Hub: a real HTTP server on 127.0.0.1 that the tests start and stop.

It speaks the part of the Hub's HTTP API that ``huggingface_hub`` and ``datasets`` really call for what compbench
does (read from ``huggingface_hub``'s source): repository creation, repository info per revision, refs, branch and
tag creation, the ``preupload`` call, the NDJSON ``commit``, tree listings and ``paths-info``, YAML validation, and
file resolution (``HEAD``/``GET`` with byte ranges) for downloads. Repositories live in memory as commits of whole
file sets. Every file is stored as a regular git blob: ``preupload`` answers ``"regular"``, so uploads travel inside
the NDJSON commit (the real Hub sends large and binary files through LFS/Xet storage, which this stand-in does not
implement and refuses).

The server records what it receives: the request lines (method, path, query; never headers), the files of every
commit, and, apart from that log, the bearer tokens it was sent (so a test can check the token was used while
asserting it appears nowhere else). It answers at most ``max_requests`` requests (503 beyond) to bound test traffic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

REPO_PREFIXES = {"datasets": "dataset", "spaces": "space", "models": "model"}
INITIAL_FILES = {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"}
DATE = "2026-01-01T00:00:00.000Z"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob, as the Hub reports it for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    title: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool = False
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """A branch, a tag or a full commit id."""
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits.get(oid)


@dataclass
class RecordedCommit:
    """What one NDJSON commit carried: its title, the files added (path -> bytes) and the paths deleted."""

    repo_id: str
    revision: str
    oid: str
    title: str
    added: dict[str, bytes]
    deleted: list[str]


class HubStandin:
    """The server and its state; ``url`` is what ``HF_ENDPOINT`` must be set to."""

    def __init__(self, token: str | None = None, max_requests: int = 2_000):
        self.token = token
        self.max_requests = max_requests
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[str] = []  # "METHOD /path?query", nothing else
        self.unhandled: list[str] = []
        self.commits: list[RecordedCommit] = []
        self.tokens_seen: set[str] = set()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubStandin:
        standin = self

        class Handler(_Handler):
            hub = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    # ------------------------------------------------------------------------------------------- seeding
    def add_repo(self, repo_id: str, files: dict[str, bytes], *, repo_type: str = "dataset",
                 revision: str | None = None, branch: str = "main", private: bool = False,
                 title: str = "seed") -> str:
        """Create (or extend) a repository with one commit holding ``files``; returns the commit id.

        ``revision`` fixes the commit id (a source pinned at a known commit); the commit also becomes the head
        of ``branch`` unless ``branch`` is None.
        """
        repo = self.repos.setdefault((repo_type, repo_id), Repo(repo_type, repo_id, private))
        oid = revision or _commit_oid(None, files, title)
        repo.commits[oid] = Commit(oid, title, dict(files))
        if branch is not None:
            repo.branches[branch] = oid
        return oid

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        commit = self.repo(repo_id, repo_type).resolve(revision)
        assert commit is not None, f"no revision {revision!r} in {repo_id}"
        return dict(commit.files)


def _commit_oid(parent: str | None, files: dict[str, bytes], title: str) -> str:
    digest = hashlib.sha1((parent or "").encode() + title.encode())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + git_blob_oid(files[path]).encode())
    return digest.hexdigest()


class _Reply(Exception):
    def __init__(self, status: int, body: object = None, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _not_found(code: str, message: str) -> _Reply:
    return _Reply(404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})


class _Handler(BaseHTTPRequestHandler):
    hub: HubStandin
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        """Silence the default stderr log (it would print request lines; the stand-in records its own)."""

    # --------------------------------------------------------------------------------------------- plumbing
    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        line = f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else "")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with hub.lock:
            hub.requests.append(line)
            over = len(hub.requests) > hub.max_requests
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                hub.tokens_seen.add(auth[len("Bearer "):])
        try:
            if over:
                raise _Reply(503, {"error": "the stand-in's request budget is spent"})
            segments = [unquote(s) for s in parts.path.split("/")[1:]]
            with hub.lock:
                self._route(method, segments, parse_qs(parts.query), body)
            with hub.lock:
                hub.unhandled.append(line)
            raise _Reply(404, {"error": f"the stand-in does not implement {method} {parts.path}"})
        except _Reply as reply:
            self._send(method, reply)

    def _send(self, method: str, reply: _Reply) -> None:
        body = reply.body
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            reply.headers.setdefault("Content-Type", "application/json")
        else:
            payload = body or b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def _authorized(self) -> bool:
        token = self.hub.token
        return token is None or self.headers.get("Authorization") == f"Bearer {token}"

    def _require_write(self) -> None:
        if not self._authorized():
            raise _Reply(401, {"error": "Invalid credentials in Authorization header"},
                         {"X-Error-Message": "Invalid credentials in Authorization header"})

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self._authorized()):
            raise _not_found("RepoNotFound", "Repository not found")
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _not_found("RevisionNotFound", "Invalid rev id: " + revision)
        return commit

    # ------------------------------------------------------------------------------------------------ routes
    def _route(self, method: str, seg: list[str], query: dict[str, list[str]], body: bytes) -> None:
        if seg[:1] == ["api"]:
            self._route_api(method, seg[1:], query, body)
        elif len(seg) >= 5 and seg[0] in REPO_PREFIXES and seg[3] == "resolve":
            self._resolve(method, REPO_PREFIXES[seg[0]], f"{seg[1]}/{seg[2]}", seg[4], "/".join(seg[5:]))
        elif len(seg) >= 4 and seg[2] == "resolve":
            self._resolve(method, "model", f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]))

    def _route_api(self, method: str, seg: list[str], query: dict[str, list[str]], body: bytes) -> None:
        if method == "POST" and seg == ["repos", "create"]:
            self._create_repo(json.loads(body))
        if method == "POST" and seg == ["validate-yaml"]:
            self._validate_yaml(json.loads(body))
        if len(seg) < 3 or seg[0] not in REPO_PREFIXES:
            return
        repo_type, repo_id, rest = REPO_PREFIXES[seg[0]], f"{seg[1]}/{seg[2]}", seg[3:]
        if method == "GET" and not rest:
            self._repo_info(self._repo(repo_type, repo_id), "main")
        if method == "GET" and len(rest) == 2 and rest[0] == "revision":
            self._repo_info(self._repo(repo_type, repo_id), rest[1])
        if method == "GET" and rest == ["refs"]:
            self._refs(self._repo(repo_type, repo_id))
        if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
            self._tree(self._repo(repo_type, repo_id), rest[1], "/".join(rest[2:]),
                       query.get("recursive", ["False"])[0].lower() in ("1", "true"))
        if method == "POST" and len(rest) == 2 and rest[0] == "paths-info":
            form = parse_qs(body.decode())
            self._paths_info(self._repo(repo_type, repo_id), rest[1], form.get("paths", []))
        if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
            self._preupload(self._repo(repo_type, repo_id), rest[1], json.loads(body))
        if method == "POST" and len(rest) == 2 and rest[0] == "commit":
            self._commit_ndjson(self._repo(repo_type, repo_id), rest[1], body)
        if method == "POST" and len(rest) == 2 and rest[0] == "branch":
            self._create_branch(self._repo(repo_type, repo_id), rest[1], json.loads(body or b"{}"))
        if method == "POST" and len(rest) == 2 and rest[0] == "tag":
            self._create_tag(self._repo(repo_type, repo_id), rest[1], json.loads(body))

    # ---------------------------------------------------------------------------------------------- handlers
    def _create_repo(self, payload: dict) -> None:
        self._require_write()
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        if (repo_type, repo_id) in self.hub.repos:
            raise _Reply(409, {"error": "You already created this dataset repo", "url": self._repo_url(repo_type,
                                                                                                           repo_id)})
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.hub.add_repo(repo_id, dict(INITIAL_FILES), repo_type=repo_type, private=private,
                          title="initial commit")
        raise _Reply(200, {"url": self._repo_url(repo_type, repo_id), "name": repo_id})

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
        return f"{self.hub.url}/{prefix}{repo_id}"

    def _validate_yaml(self, payload: dict) -> None:
        content = payload.get("content", "")
        if content.startswith("---\n"):
            front, _, _ = content[4:].partition("\n---")
            try:
                data = yaml.safe_load(front)
            except yaml.YAMLError as exc:
                raise _Reply(400, {"errors": [{"message": f"invalid YAML: {exc}"}]}) from None
            if not isinstance(data, dict):
                raise _Reply(400, {"errors": [{"message": "metadata must be a YAML mapping"}]})
        raise _Reply(200, {"errors": [], "warnings": []})

    def _repo_info(self, repo: Repo, revision: str) -> None:
        commit = self._commit(repo, revision)
        raise _Reply(200, {
            "id": repo.repo_id, "_id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": commit.oid,
            "private": repo.private, "gated": False, "disabled": False, "lastModified": DATE, "createdAt": DATE,
            "tags": [], "downloads": 0, "likes": 0,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        })

    def _refs(self, repo: Repo) -> None:
        def refs(names: dict[str, str], kind: str) -> list[dict]:
            return [{"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}
                    for name, oid in sorted(names.items())]

        raise _Reply(200, {"branches": refs(repo.branches, "heads"), "converts": [], "tags": refs(repo.tags, "tags"),
                           "pullRequests": []})

    @staticmethod
    def _entry(path: str, files: dict[str, bytes]) -> dict | None:
        if path in files:
            return {"type": "file", "oid": git_blob_oid(files[path]), "size": len(files[path]), "path": path}
        if any(name.startswith(path + "/") for name in files) or path == "":
            children = sorted(name for name in files if name.startswith(path + "/") or path == "")
            return {"type": "directory", "oid": hashlib.sha1("\n".join(children).encode()).hexdigest(), "size": 0,
                    "path": path}
        return None

    def _tree(self, repo: Repo, revision: str, path: str, recursive: bool) -> None:
        files = self._commit(repo, revision).files
        if path and self._entry(path, files) is None:
            raise _not_found("EntryNotFound", f"{path} does not exist on {revision}")
        prefix = f"{path}/" if path else ""
        names: set[str] = set()
        for name in files:
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix):].split("/")
            depth = len(parts) if recursive else 1
            for i in range(1, depth + 1):
                names.add(prefix + "/".join(parts[:i]))
        entries = [self._entry(name, files) for name in sorted(names)]
        raise _Reply(200, entries)

    def _paths_info(self, repo: Repo, revision: str, paths: list[str]) -> None:
        files = self._commit(repo, revision).files
        entries = [self._entry(path.strip("/"), files) for path in paths]
        raise _Reply(200, [entry for entry in entries if entry is not None])

    def _preupload(self, repo: Repo, revision: str, payload: dict) -> None:
        self._require_write()
        files = self._commit(repo, revision).files
        raise _Reply(200, {"files": [
            {"path": item["path"], "uploadMode": "regular", "shouldIgnore": False,
             "oid": git_blob_oid(files[item["path"]]) if item["path"] in files else None}
            for item in payload["files"]]})

    def _commit_ndjson(self, repo: Repo, revision: str, body: bytes) -> None:
        self._require_write()
        parent = self._commit(repo, revision)
        if revision not in repo.branches:
            raise _Reply(400, {"error": f"cannot commit to {revision!r}: not a branch"})
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _Reply(400, {"error": "the first NDJSON line must be the commit header"})
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != parent.oid:
            raise _Reply(412, {"error": "parent commit is not the head of the branch"})
        files = dict(parent.files)
        added: dict[str, bytes] = {}
        deleted: list[str] = []
        for item in lines[1:]:
            key, value = item["key"], item["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    raise _Reply(400, {"error": "only base64 file contents are supported"})
                added[value["path"]] = files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    raise _not_found("EntryNotFound", "A file with this name doesn't exist")
                deleted.append(value["path"])
                del files[value["path"]]
            elif key == "deletedFolder":
                gone = [name for name in files if name.startswith(value["path"].rstrip("/") + "/")]
                deleted.extend(gone)
                for name in gone:
                    del files[name]
            else:
                raise _Reply(400, {"error": f"the stand-in does not store {key!r} operations (LFS/Xet)"})
        oid = _commit_oid(parent.oid, files, header["summary"])
        repo.commits[oid] = Commit(oid, header["summary"], files)
        repo.branches[revision] = oid
        self.hub.commits.append(RecordedCommit(repo.repo_id, revision, oid, header["summary"], added, deleted))
        raise _Reply(200, {"success": True, "commitOid": oid,
                           "commitUrl": f"{self._repo_url(repo.repo_type, repo.repo_id)}/commit/{oid}"})

    def _create_branch(self, repo: Repo, branch: str, payload: dict) -> None:
        self._require_write()
        if branch in repo.branches:
            raise _Reply(409, {"error": "Reference already exists"})
        start = self._commit(repo, payload.get("startingPoint") or "main")
        repo.branches[branch] = start.oid
        raise _Reply(200, {})

    def _create_tag(self, repo: Repo, revision: str, payload: dict) -> None:
        self._require_write()
        if payload["tag"] in repo.tags:
            raise _Reply(409, {"error": "Tag already exists"})
        repo.tags[payload["tag"]] = self._commit(repo, revision).oid
        raise _Reply(200, {})

    def _resolve(self, method: str, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        if method not in ("GET", "HEAD"):
            return
        commit = self._commit(self._repo(repo_type, repo_id), revision)
        if path not in commit.files:
            raise _not_found("EntryNotFound", f"{path} does not exist on {revision}")
        content = commit.files[path]
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_oid(content)}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        ranged = self.headers.get("Range")
        if ranged and ranged.startswith("bytes="):
            start_text, _, end_text = ranged[len("bytes="):].partition("-")
            start = int(start_text or 0)
            end = min(int(end_text), len(content) - 1) if end_text else len(content) - 1
            if start >= len(content) and len(content):
                raise _Reply(416, b"", {"Content-Range": f"bytes */{len(content)}"})
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            raise _Reply(206, content[start:end + 1], headers)
        raise _Reply(200, content, headers)


def isolate_hf_home(home, monkeypatch) -> None:
    """``HF_HOME``, every Hugging Face cache and the token file under ``home``, and no ``HF_TOKEN``: in the
    environment (read by subprocesses and by a first import) and in the constants ``huggingface_hub`` and
    ``datasets`` already read at import, when they are imported."""
    home = str(home)
    env = {"HF_HOME": home, "HF_HUB_CACHE": f"{home}/hub", "HF_DATASETS_CACHE": f"{home}/datasets",
           "HF_TOKEN_PATH": f"{home}/token", "HF_XET_CACHE": f"{home}/xet", "HF_ASSETS_CACHE": f"{home}/assets"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    if "huggingface_hub.constants" in sys.modules:
        hub_constants = sys.modules["huggingface_hub.constants"]
        for name, value in {"HF_HOME": home, "HF_HUB_CACHE": env["HF_HUB_CACHE"],
                            "HUGGINGFACE_HUB_CACHE": env["HF_HUB_CACHE"], "HF_ASSETS_CACHE": env["HF_ASSETS_CACHE"],
                            "HF_XET_CACHE": env["HF_XET_CACHE"], "HF_TOKEN_PATH": env["HF_TOKEN_PATH"],
                            "HF_STORED_TOKENS_PATH": f"{home}/stored_tokens"}.items():
            monkeypatch.setattr(hub_constants, name, value)
    if "datasets.config" in sys.modules:
        config = sys.modules["datasets.config"]
        cache = Path(env["HF_DATASETS_CACHE"])
        for name, value in {"HF_CACHE_HOME": home, "HF_DATASETS_CACHE": cache,
                            "DOWNLOADED_DATASETS_PATH": cache / "downloads",
                            "EXTRACTED_DATASETS_PATH": cache / "downloads" / "extracted",
                            "HF_MODULES_CACHE": Path(home) / "modules"}.items():
            monkeypatch.setattr(config, name, value)


def point_clients_at(endpoint: str, home, monkeypatch) -> None:
    """Make ``huggingface_hub`` and ``datasets`` in this process talk to ``endpoint``, online, with their caches
    and token file under ``home`` (:func:`isolate_hf_home`).

    Both libraries read ``HF_ENDPOINT`` and the offline switch once, at import: the environment is set for
    subprocesses and the already-imported constants are patched for this process.
    """
    import datasets.config
    import huggingface_hub.constants as hub_constants
    from huggingface_hub import HfFileSystem

    isolate_hf_home(home, monkeypatch)
    for name, value in {"HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1",
                        "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name, value in {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": hub_constants.HF_URL_HOSTS | {urlsplit(endpoint).hostname},
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HUB_ETAG_TIMEOUT": 5,  # loopback answers at once: a stuck request fails fast instead of hanging
        "HF_HUB_DOWNLOAD_TIMEOUT": 5,
    }.items():
        monkeypatch.setattr(hub_constants, name, value)
    for name, value in {
        "HF_ENDPOINT": endpoint,
        "HUB_DATASETS_URL": endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}",
        "HF_HUB_OFFLINE": False,
        "HF_DATASETS_OFFLINE": False,
    }.items():
        monkeypatch.setattr(datasets.config, name, value)
    HfFileSystem.clear_instance_cache()  # instances remember their endpoint and directory listings


#: The token the stand-in accepts; tests assert it never appears in any output, log or written file.
TOKEN = "hf_StandInSecret7c1d9e0b4a2f"
