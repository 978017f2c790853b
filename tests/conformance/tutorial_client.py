"""The private-conversations tutorial, driven by the official LangGraph Python client.

Usage: python tutorial_client.py --url http://127.0.0.1:PORT --part 1|2

Part 1 expects a server started with `--policy global` (one global handler), part 2 a fresh
server started with `--policy scoped` (scoped handlers on top of the global one). Every expected
outcome prints one line starting with a check mark, every unexpected one a line starting with a
cross. The exit status is 0 only when no cross appeared and every expected check mark did.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any, Awaitable, Callable

import httpx
from langgraph_sdk import get_client

OK = "\u2705"
FAIL = "\u274c"

ALICE_TOKEN = "user1-token"
BOB_TOKEN = "user2-token"
ALICE_ID = "user1"
BOB_ID = "user2"
GRAPH = "agent"
ALICE_TEXT = "Hi, this is Alice's private chat"
BOB_TEXT = "Hi, this is Bob's private chat"
BOB_SECOND_TEXT = "Bob again, waiting for the answer"
ASSISTANTS_DENIED = "User lacks the required permissions."
STORE_DENIED = "Not authorized"

# The outcomes each part must show, in the order they are checked. A key missing from the
# passed set at the end is reported as a failure, so a part that stops early cannot pass.
# Steps 2 to 6, which both parts play.
COMMON = [
    "alice_thread",
    "alice_thread_owner",
    "alice_run",
    "alice_run_joined",
    "alice_state",
    "bob_get_denied",
    "bob_state_denied",
    "bob_update_denied",
    "bob_run_denied",
    "bob_join_denied",
    "bob_delete_denied",
    "alice_thread_intact",
    "bob_thread",
    "bob_run",
    "bob_wait",
    "alice_search",
    "bob_search",
    "bob_search_widen",
]
PART1 = ["alice_assistant", *COMMON, "bob_assistant_denied"]
PART2 = [
    *COMMON,
    "alice_store_own",
    "alice_store_other_denied",
    "bob_store_read_denied",
    "alice_assistant_denied",
    "alice_assistant_search_denied",
    "alice_thread_again",
]


class Abort(Exception):
    """A step that later steps depend on went wrong; the part cannot go on."""


class Report:
    """Prints check marks and crosses and remembers which expected outcomes were seen."""

    def __init__(self, expected: list[str]) -> None:
        self.expected = expected
        self.passed: set[str] = set()
        self.failed: set[str] = set()
        self.failures = 0

    def ok(self, key: str, message: str) -> None:
        if key not in self.expected:
            self.fail(key, f"internal: unexpected check {key!r}")
            return
        if key in self.passed:
            self.fail(key, f"internal: check {key!r} ran twice")
            return
        self.passed.add(key)
        print(f"{OK} {message}", flush=True)

    def fail(self, key: str, message: str) -> None:
        self.failures += 1
        self.failed.add(key)
        print(f"{FAIL} {message}  [{key}]", flush=True)

    def finish(self) -> int:
        for key in self.expected:
            if key not in self.passed and key not in self.failed:
                self.failures += 1
                print(f"{FAIL} expected outcome never shown: {key}", flush=True)
        print(
            f"tutorial client: {len(self.passed)} of {len(self.expected)} expected outcomes, "
            f"{self.failures} failures",
            flush=True,
        )
        return 1 if self.failures else 0


def detail_of(error: httpx.HTTPStatusError) -> Any:
    """The `detail` of an error body (`{"detail": ...}`), or the whole body if it has none."""
    body = getattr(error, "body", None)
    if body is None:
        try:
            body = error.response.json()
        except Exception:
            try:
                body = error.response.text
            except Exception:
                body = None
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def describe(error: BaseException) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        r = error.response
        return f"{r.status_code} {r.reason_phrase} {detail_of(error)!r} ({r.request.method} {r.request.url.path})"
    return f"{type(error).__name__}: {error}"


def short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


async def must(report: Report, key: str, what: str, call: Awaitable[Any]) -> Any:
    """Awaits a call that must succeed; on failure reports it and aborts the part."""
    try:
        return await call
    except Exception as error:  # any failure of a prerequisite stops the part
        report.fail(key, f"{what} failed: {describe(error)}")
        raise Abort from error


class Failed:
    """What `attempt` returns for a call that failed (and was reported)."""


FAILED = Failed()


async def attempt(report: Report, key: str, what: str, call: Awaitable[Any]) -> Any:
    """Awaits a call that must succeed; on failure reports it and returns FAILED."""
    try:
        return await call
    except Exception as error:
        report.fail(key, f"{what} failed: {describe(error)}")
        return FAILED


async def expect_error(
    report: Report,
    key: str,
    what: str,
    call: Awaitable[Any],
    status: int,
    ok_prefix: str,
    if_allowed: str,
    detail: str | None = None,
) -> None:
    """Awaits a call that must fail with an HTTP error of `status` (and `detail`, if given)."""
    try:
        result = await call
    except httpx.HTTPStatusError as error:
        r = error.response
        got_detail = detail_of(error)
        if r.status_code == status and (detail is None or got_detail == detail):
            report.ok(key, f"{ok_prefix}: {r.status_code} {r.reason_phrase}: {got_detail}")
        else:
            want = f"{status}" + (f" {detail!r}" if detail is not None else "")
            report.fail(key, f"{what}: expected {want}, got {describe(error)}")
    except Exception as error:
        report.fail(key, f"{what}: expected HTTP {status}, got {describe(error)}")
    else:
        report.fail(key, f"{if_allowed} (got {short(result)})")


def messages_of(values: Any) -> list[dict[str, Any]]:
    if isinstance(values, dict) and isinstance(values.get("messages"), list):
        return [m for m in values["messages"] if isinstance(m, dict)]
    return []


def has_echo(values: Any, text: str) -> bool:
    """Whether the state holds the human message `text` followed by an AI reply echoing it."""
    msgs = messages_of(values)
    for i, m in enumerate(msgs):
        if m.get("type") == "human" and m.get("content") == text:
            return any(r.get("type") == "ai" and r.get("content") == text for r in msgs[i + 1 :])
    return False


def owner_of(thing: Any) -> Any:
    metadata = thing.get("metadata") if isinstance(thing, dict) else None
    return metadata.get("owner") if isinstance(metadata, dict) else None


def user_input(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def conversation(report: Report, alice: Any, bob: Any) -> None:
    """Steps 2 to 6 of the tutorial plus cross-user checks; the same under both policies."""
    # Step 2: Alice creates a thread, stamped with her identity.
    thread = await must(report, "alice_thread", "Alice creating a thread", alice.threads.create())
    alice_thread = thread.get("thread_id") if isinstance(thread, dict) else None
    if not alice_thread:
        report.fail("alice_thread", f"Alice's new thread has no thread_id: {short(thread)}")
        raise Abort
    report.ok("alice_thread", f"Alice created thread: {alice_thread}")
    if owner_of(thread) == ALICE_ID:
        report.ok("alice_thread_owner", f"Alice's thread is stamped owner={ALICE_ID}")
    else:
        report.fail("alice_thread_owner", f"Alice's thread should be stamped owner={ALICE_ID}: {short(thread)}")

    # Step 3: a run on her thread, then joined so that the thread holds the echo reply.
    run = await must(
        report,
        "alice_run",
        "Alice creating a run",
        alice.runs.create(alice_thread, GRAPH, input=user_input(ALICE_TEXT)),
    )
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if not run_id or run.get("thread_id") != alice_thread:
        report.fail("alice_run", f"Alice's run should carry a run_id and her thread's id: {short(run)}")
        raise Abort
    report.ok("alice_run", f"Alice created run: {run_id}")
    joined = await attempt(report, "alice_run_joined", "Alice joining her run", alice.runs.join(alice_thread, run_id))
    if joined is FAILED:
        pass
    elif has_echo(joined, ALICE_TEXT):
        report.ok("alice_run_joined", "Alice's run finished (runs.join) with the echo reply")
    else:
        report.fail("alice_run_joined", f"runs.join should return the echo of Alice's message: {short(joined)}")
    state = await attempt(report, "alice_state", "Alice reading her thread's state", alice.threads.get_state(alice_thread))
    values = state.get("values") if isinstance(state, dict) else None
    if state is FAILED:
        pass
    elif has_echo(values, ALICE_TEXT) and len(messages_of(values)) == 2:
        report.ok("alice_state", "Alice's thread state has her message and the echo reply")
    else:
        report.fail("alice_state", f"Alice's thread state should hold her message and its echo: {short(state)}")

    # Step 4: Bob cannot see Alice's thread: 404, as if it did not exist.
    await expect_error(
        report,
        "bob_get_denied",
        "Bob getting Alice's thread",
        bob.threads.get(alice_thread),
        404,
        "Bob correctly denied access",
        "Bob shouldn't see Alice's thread!",
    )
    await expect_error(
        report,
        "bob_state_denied",
        "Bob reading Alice's thread state",
        bob.threads.get_state(alice_thread),
        404,
        "Bob correctly denied Alice's thread state",
        "Bob shouldn't read Alice's thread state!",
    )
    await expect_error(
        report,
        "bob_update_denied",
        "Bob updating Alice's thread",
        bob.threads.update(alice_thread, metadata={"hijacked_by": BOB_ID}),
        404,
        "Bob correctly denied updating Alice's thread",
        "Bob shouldn't update Alice's thread!",
    )
    await expect_error(
        report,
        "bob_run_denied",
        "Bob creating a run on Alice's thread",
        bob.runs.create(alice_thread, GRAPH, input=user_input("Bob was here")),
        404,
        "Bob correctly denied running on Alice's thread",
        "Bob shouldn't run on Alice's thread!",
    )
    await expect_error(
        report,
        "bob_join_denied",
        "Bob joining Alice's run",
        bob.runs.join(alice_thread, run_id),
        404,
        "Bob correctly denied joining Alice's run",
        "Bob shouldn't join Alice's run!",
    )
    # Deleting comes last: had it succeeded, it would mask the checks before it.
    await expect_error(
        report,
        "bob_delete_denied",
        "Bob deleting Alice's thread",
        bob.threads.delete(alice_thread),
        404,
        "Bob correctly denied deleting Alice's thread",
        "Bob shouldn't delete Alice's thread!",
    )
    again = await attempt(report, "alice_thread_intact", "Alice getting her thread", alice.threads.get(alice_thread))
    after = FAILED
    if again is not FAILED:
        after = await attempt(
            report, "alice_thread_intact", "Alice reading her state", alice.threads.get_state(alice_thread)
        )
    if after is not FAILED:
        metadata = again.get("metadata") if isinstance(again, dict) else None
        if (
            isinstance(metadata, dict)
            and metadata.get("owner") == ALICE_ID
            and "hijacked_by" not in metadata
            and len(messages_of(after.get("values") if isinstance(after, dict) else None)) == 2
        ):
            report.ok("alice_thread_intact", "Alice's thread is untouched by Bob's attempts")
        else:
            report.fail(
                "alice_thread_intact",
                f"Alice's thread changed after Bob's attempts: {short(again)} state {short(after)}",
            )

    # Step 5: Bob has a conversation of his own.
    bob_thread_obj = await must(report, "bob_thread", "Bob creating a thread", bob.threads.create())
    bob_thread = bob_thread_obj.get("thread_id") if isinstance(bob_thread_obj, dict) else None
    if not bob_thread:
        report.fail("bob_thread", f"Bob's new thread has no thread_id: {short(bob_thread_obj)}")
        raise Abort
    if owner_of(bob_thread_obj) == BOB_ID:
        report.ok("bob_thread", f"Bob created his own thread: {bob_thread}")
    else:
        report.fail("bob_thread", f"Bob's thread should be stamped owner={BOB_ID}: {short(bob_thread_obj)}")
    bob_run = await must(
        report,
        "bob_run",
        "Bob creating a run",
        bob.runs.create(bob_thread, GRAPH, input=user_input(BOB_TEXT)),
    )
    bob_run_id = bob_run.get("run_id") if isinstance(bob_run, dict) else None
    if not bob_run_id:
        report.fail("bob_run", f"Bob's run has no run_id: {short(bob_run)}")
        raise Abort
    bob_joined = await attempt(report, "bob_run", "Bob joining his run", bob.runs.join(bob_thread, bob_run_id))
    if bob_joined is FAILED:
        pass
    elif has_echo(bob_joined, BOB_TEXT):
        report.ok("bob_run", f"Bob created a run on his thread: {bob_run_id}, answered by the echo")
    else:
        report.fail("bob_run", f"Bob's joined run should hold the echo of his message: {short(bob_joined)}")
    waited = await attempt(
        report,
        "bob_wait",
        "Bob's runs.wait",
        bob.runs.wait(bob_thread, GRAPH, input=user_input(BOB_SECOND_TEXT)),
    )
    if waited is FAILED:
        pass
    elif has_echo(waited, BOB_SECOND_TEXT) and has_echo(waited, BOB_TEXT) and len(messages_of(waited)) == 4:
        report.ok("bob_wait", "Bob's second run (runs.wait) returned his whole conversation with both echoes")
    else:
        report.fail("bob_wait", f"runs.wait should return Bob's 4 messages: {short(waited)}")

    # Step 6: each user's search lists exactly their own thread.
    for who, client, key, own in (("Alice", alice, "alice_search", alice_thread), ("Bob", bob, "bob_search", bob_thread)):
        found = await attempt(report, key, f"{who} searching threads", client.threads.search(limit=100))
        if found is FAILED:
            continue
        ids = [t.get("thread_id") for t in found] if isinstance(found, list) else None
        if ids == [own]:
            report.ok(key, f"{who} sees 1 thread")
        else:
            report.fail(key, f"{who} should see exactly their thread {own}, got {ids!r}")
    # Bob asks for Alice's threads by her owner stamp. The tutorial's global handler stamps the
    # search's own metadata with Bob's identity (as it stamps every value with metadata), and
    # the auth filter is ANDed on top: either way no thread of Alice's may come back.
    widened = await attempt(
        report,
        "bob_search_widen",
        "Bob searching with owner=user1",
        bob.threads.search(metadata={"owner": ALICE_ID}, limit=100),
    )
    if widened is FAILED:
        pass
    elif isinstance(widened, list) and all(
        isinstance(t, dict) and t.get("thread_id") != alice_thread and owner_of(t) == BOB_ID for t in widened
    ):
        report.ok("bob_search_widen", f"Bob's search for owner={ALICE_ID} lists none of Alice's threads")
    else:
        report.fail("bob_search_widen", f"Bob's search for owner={ALICE_ID} must not list Alice's threads: {short(widened)}")


async def part1(report: Report, alice: Any, bob: Any) -> None:
    # Step 1: under the global handler Alice may create an assistant; it is hers alone.
    assistant = await must(report, "alice_assistant", "Alice creating an assistant", alice.assistants.create(GRAPH))
    assistant_id = assistant.get("assistant_id") if isinstance(assistant, dict) else None
    if not assistant_id or assistant.get("graph_id") != GRAPH:
        report.fail("alice_assistant", f"Alice's assistant should have an id and graph {GRAPH}: {short(assistant)}")
        raise Abort
    report.ok("alice_assistant", f"Alice created assistant: {assistant_id}")
    await conversation(report, alice, bob)
    await expect_error(
        report,
        "bob_assistant_denied",
        "Bob getting Alice's assistant",
        bob.assistants.get(assistant_id),
        404,
        "Bob correctly denied Alice's assistant",
        "Bob shouldn't see Alice's assistant!",
    )


async def part2(report: Report, alice: Any, bob: Any) -> None:
    await conversation(report, alice, bob)

    # The store: a namespace must start with the caller's identity.
    namespace = [ALICE_ID, "notes"]
    key = f"note-{uuid.uuid4()}"
    value = {"text": "Alice's private note"}
    item = await attempt(
        report, "alice_store_own", "Alice storing under her namespace", alice.store.put_item(namespace, key=key, value=value)
    )
    if item is not FAILED:
        item = await attempt(report, "alice_store_own", "Alice reading her item", alice.store.get_item(namespace, key=key))
    if item is FAILED:
        pass
    elif isinstance(item, dict) and item.get("value") == value and list(item.get("namespace") or []) == namespace:
        report.ok("alice_store_own", f"Alice stored and read back an item under {tuple(namespace)}")
    else:
        report.fail("alice_store_own", f"Alice's item should read back as stored: {short(item)}")
    await expect_error(
        report,
        "alice_store_other_denied",
        "Alice storing under Bob's namespace",
        alice.store.put_item([BOB_ID, "notes"], key=key, value=value),
        403,
        "Alice correctly denied writing to Bob's namespace",
        "Alice shouldn't write under Bob's namespace!",
        detail=STORE_DENIED,
    )
    await expect_error(
        report,
        "bob_store_read_denied",
        "Bob reading Alice's item",
        bob.store.get_item(namespace, key=key),
        403,
        "Bob correctly denied reading Alice's namespace",
        "Bob shouldn't read Alice's store items!",
        detail=STORE_DENIED,
    )

    # Step 7 and 8: assistants are off limits to everyone.
    await expect_error(
        report,
        "alice_assistant_denied",
        "Alice creating an assistant",
        alice.assistants.create(GRAPH),
        403,
        "Alice correctly denied access",
        "Alice shouldn't be able to create assistants!",
        detail=ASSISTANTS_DENIED,
    )
    await expect_error(
        report,
        "alice_assistant_search_denied",
        "Alice searching assistants",
        alice.assistants.search(),
        403,
        "Alice correctly denied access to searching assistants",
        "Alice shouldn't be able to search assistants!",
        detail=ASSISTANTS_DENIED,
    )

    # Step 9: threads still work.
    thread = await must(report, "alice_thread_again", "Alice creating another thread", alice.threads.create())
    thread_id = thread.get("thread_id") if isinstance(thread, dict) else None
    if thread_id and owner_of(thread) == ALICE_ID:
        report.ok("alice_thread_again", f"Alice created thread: {thread_id}")
    else:
        report.fail("alice_thread_again", f"Alice's new thread should have an id and owner={ALICE_ID}: {short(thread)}")


def client_for(url: str, token: str) -> Any:
    # api_key=None: never pick up an API key from the environment.
    return get_client(url=url, api_key=None, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)


async def main_async(url: str, part: int) -> int:
    report = Report(PART1 if part == 1 else PART2)
    alice = client_for(url, ALICE_TOKEN)
    bob = client_for(url, BOB_TOKEN)
    steps: Callable[[Report, Any, Any], Awaitable[None]] = part1 if part == 1 else part2
    try:
        await steps(report, alice, bob)
    except Abort:
        print(f"{FAIL} part {part} stopped: a step the rest depends on failed", flush=True)
        report.failures += 1
    except Exception as error:
        print(f"{FAIL} part {part} crashed: {describe(error)}", flush=True)
        report.failures += 1
    finally:
        await alice.aclose()
        await bob.aclose()
    return report.finish()


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8123")
    parser.add_argument("--part", type=int, choices=(1, 2), required=True, help="1: global policy, 2: scoped policy")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.url.rstrip("/"), args.part))


if __name__ == "__main__":
    sys.exit(main())
