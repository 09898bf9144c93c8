"""The command line every in-sandbox probe shares; staged beside each lab's ``probe.py``.

Standard library only, and never imported by the grader: the kit copies this file to
``/grader/probe_cli.py``, next to ``/grader/probe.py``, and a probe ends with::

    if __name__ == "__main__":
        from probe_cli import serve

        serve({"pipeline": pipeline, "hash": hash_paths})

``python probe.py COMMAND ARGS...`` then calls the function named ``COMMAND`` and prints what it
returns as JSON on the last line (the host reads it with ``Workspace.probe``). Each argument is
converted to the type its parameter is annotated with (``str``, ``int``, ``float``, ``Path``):

- plain arguments fill the positional parameters in order, then ``*args``;
- ``--name=value`` sets the keyword parameter ``name`` (dashes become underscores); a parameter
  annotated as a list or tuple takes every ``--name=value`` given, in order;
- ``--name`` alone sets a ``bool`` parameter to true;
- after ``--``, every argument is plain (a command line passed on to another program).
"""

from __future__ import annotations

import http.client
import inspect
import json
import socket
import sys
import threading
import time
import types
import typing
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Command = Callable[..., Any]
_CONVERTERS: dict[Any, Callable[[str], Any]] = {str: str, int: int, float: float, Path: Path}
_SEQUENCES = (list, tuple, Sequence)


def serve(
    commands: dict[str, Command], argv: Sequence[str] | None = None, *, sort_keys: bool = False
) -> None:
    """Run the command that ``argv`` (by default ``sys.argv[1:]``) names; print its JSON result."""
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or words[0] not in commands:
        given = repr(words[0]) if words else "no command"
        raise SystemExit(f"usage: probe.py {{{','.join(commands)}}} ARGS... ({given} given)")
    function = commands[words[0]]
    args, kwargs = parse_arguments(function, words[1:])
    print(json.dumps(function(*args, **kwargs), sort_keys=sort_keys))


def parse_arguments(function: Command, words: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that ``words`` give ``function`` (see the module)."""
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    parameters = signature.parameters
    plain: list[str] = []
    kwargs: dict[str, Any] = {}
    for index, word in enumerate(words):
        if word == "--":
            plain += words[index + 1 :]
            break
        if not word.startswith("--"):
            plain.append(word)
            continue
        name, has_value, value = word[2:].partition("=")
        name = name.replace("-", "_")
        if name not in parameters or parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY:
            raise SystemExit(f"{function.__name__} takes no option --{word[2:]}")
        hint = _optional_removed(hints.get(name, str))
        if typing.get_origin(hint) in _SEQUENCES:
            kwargs.setdefault(name, []).append(_convert(typing.get_args(hint)[0], value))
        elif hint is bool and not has_value:
            kwargs[name] = True
        else:
            kwargs[name] = _convert(hint, value)
    return _positional(function, hints, plain), kwargs


def _positional(function: Command, hints: dict[str, Any], plain: list[str]) -> list[Any]:
    args: list[Any] = []
    remaining = list(plain)
    for parameter in inspect.signature(function).parameters.values():
        hint = _optional_removed(hints.get(parameter.name, str))
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            args += [_convert(hint, word) for word in remaining]
            remaining = []
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            if not remaining:
                if parameter.default is inspect.Parameter.empty:
                    raise SystemExit(f"{function.__name__} needs {parameter.name.upper()}")
                break
            args.append(_convert(hint, remaining.pop(0)))
    if remaining:
        raise SystemExit(f"{function.__name__} takes no more arguments: {remaining}")
    return args


def _optional_removed(hint: Any) -> Any:
    """``X`` for ``X | None``; any other hint as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        left = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(left) == 1:
            return left[0]
    return hint


def _convert(hint: Any, word: str) -> Any:
    return _CONVERTERS.get(hint, str)(word)


# --- one HTTP exchange with a learner's service, bounded -----------------------------------------

MAX_ANSWER_BYTES = 1_000_000  # as the grader's own exchanges (graders/containers/http_exchange.py)


class AnswerTooLarge(OSError):
    """The answer's body is over the cap."""


def exchange(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    deadline: float = 10.0,
    cap: int = MAX_ANSWER_BYTES,
) -> tuple[int, bytes]:
    """``(status, body)`` of one request, complete within ``deadline`` seconds IN ALL (connect,
    headers, body) with at most ``cap`` bytes of body; any status is an answer. Otherwise raises
    ``TimeoutError("no complete answer within N s")``, :class:`AnswerTooLarge` ("answered more
    than 1 MB") or another ``OSError`` (refused, reset): every failure is an ``OSError``."""
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ends = time.monotonic() + deadline
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=deadline)
    cut = threading.Event()

    def cut_short() -> None:  # a blocked read (a header trickled byte by byte) returns at once
        cut.set()
        if connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(deadline, cut_short)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        content = bytearray()
        while True:
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = response.read1(65536)
            if not chunk:
                break
            content += chunk
            if len(content) > cap:
                raise AnswerTooLarge(f"answered more than {cap / 1_000_000:g} MB")
        if cut.is_set() or response.length:
            raise TimeoutError
        return response.status, bytes(content)
    except (TimeoutError, http.client.HTTPException, OSError) as error:
        if isinstance(error, AnswerTooLarge):
            raise
        if isinstance(error, TimeoutError) or cut.is_set() or time.monotonic() >= ends:
            raise TimeoutError(f"no complete answer within {deadline:g} s") from None
        if isinstance(error, OSError):
            raise
        raise ConnectionError(f"no valid HTTP answer ({type(error).__name__})") from None
    finally:
        watchdog.cancel()
        connection.close()
