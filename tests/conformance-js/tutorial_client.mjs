// The private-conversations tutorial, driven by the official LangGraph JS client
// (@langchain/langgraph-sdk), plus what a LangGraph.js user relies on: runs (wait, stream with
// stream modes and messages, joinStream), errors of a joined stream as events, copies, history
// with time travel, and the store under the policy's filter.
//
// Usage: node tutorial_client.mjs --url http://127.0.0.1:PORT --part 1|2|3
//
// Part 1 expects a server started with `--policy global`, part 2 a fresh server started with
// `--policy scoped`, part 3 one started with `--policy namespaced` (the store pattern LangGraph.js
// documents: a filter showing each user the namespaces that contain their id). Every expected outcome prints one line starting with a check mark, every
// unexpected one a line starting with a cross. The exit status is 0 only when no cross appeared
// and every expected check mark did.

import { Client } from "@langchain/langgraph-sdk";

const OK = "\u2705";
const FAIL = "\u274c";

const ALICE_TOKEN = "user1-token";
const BOB_TOKEN = "user2-token";
const ALICE_ID = "user1";
const BOB_ID = "user2";
const GRAPH = "agent";
const ALICE_TEXT = "Hi, this is Alice's private chat";
const BOB_TEXT = "Hi, this is Bob's private chat";
const BOB_SECOND_TEXT = "Bob again, waiting for the answer";
const ASSISTANTS_DENIED = "User lacks the required permissions.";
const STORE_DENIED = "Not authorized";
const RANDOM_ID = "00000000-0000-4000-8000-00000000abcd";

// The outcomes each part must show, in order. A key never shown is a failure at the end, so a
// part that stops early cannot pass.
const COMMON = [
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
  // Runs and streams.
  "alice_wait",
  "alice_stream_modes",
  "alice_stream_messages",
  "alice_stream_stateless",
  "alice_join_stream",
  "bob_join_stream_error",
  "bob_join_stream_absent",
  "bob_thread_stream_error",
  "bob_stream_denied",
  "anonymous_join_stream_401",
  // Copies.
  "bob_copy_409",
  "bob_copy_absent_409",
  "alice_copy",
  // History and time travel.
  "alice_history",
  "alice_history_parents",
  "alice_history_page",
  "alice_state_at_checkpoint",
  "alice_fork",
  "bob_history_denied",
  "bob_fork_denied",
];
const PART1 = [
  "alice_assistant",
  ...COMMON,
  "bob_assistant_denied",
  "alice_store_put",
  "alice_store_unowned_denied",
  "bob_store_get_hidden",
  "bob_store_search_hidden",
  "bob_store_delete_hidden",
  "bob_store_overwrite_hidden",
  "store_namespaces_filtered",
];
const PART2 = [
  ...COMMON,
  "alice_store_own",
  "alice_store_other_denied",
  "bob_store_read_denied",
  "store_namespaces_scoped",
  "alice_assistant_denied",
  "alice_assistant_search_denied",
  "alice_thread_again",
];

const PART3 = [
  "alice_store_put_own",
  "alice_store_put_other_denied",
  "bob_store_put_spoofing",
  "alice_store_search_own",
  "alice_store_get_hidden",
  "alice_store_delete_hidden",
  "store_namespaces_containing_id",
  "namespaced_threads_private",
];

class Abort extends Error {}

class Report {
  constructor(expected) {
    this.expected = expected;
    this.passed = new Set();
    this.failed = new Set();
    this.failures = 0;
  }

  ok(key, message) {
    if (!this.expected.includes(key)) return this.fail(key, `internal: unexpected check ${key}`);
    if (this.passed.has(key)) return this.fail(key, `internal: check ${key} ran twice`);
    this.passed.add(key);
    console.log(`${OK} ${message}`);
  }

  fail(key, message) {
    this.failures += 1;
    this.failed.add(key);
    console.log(`${FAIL} ${message}  [${key}]`);
  }

  // ok when `cond`, else a failure saying what was seen.
  check(key, cond, message, seen) {
    if (cond) this.ok(key, message);
    else this.fail(key, `${message}: got ${short(seen)}`);
    return cond;
  }

  finish() {
    for (const key of this.expected) {
      if (!this.passed.has(key) && !this.failed.has(key)) {
        this.failures += 1;
        console.log(`${FAIL} expected outcome never shown: ${key}`);
      }
    }
    console.log(
      `tutorial client (js): ${this.passed.size} of ${this.expected.length} expected outcomes, ${this.failures} failures`,
    );
    return this.failures ? 1 : 0;
  }
}

function short(value) {
  let text;
  try {
    text = value instanceof Error ? `${value.name}: ${value.message}` : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text && text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function client(url, token) {
  return new Client({
    apiUrl: url,
    apiKey: null,
    defaultHeaders: token ? { Authorization: `Bearer ${token}` } : {},
    callerOptions: { maxRetries: 0 },
  });
}

// The HTTP status of a client error (the client's HTTPError carries it), else undefined.
function statusOf(error) {
  return typeof error?.status === "number" ? error.status : undefined;
}

// The `detail` of an error's body, if it has one.
function detailOf(error) {
  const text = String(error?.message ?? "").replace(/^HTTP \d+: /, "");
  try {
    return JSON.parse(text).detail;
  } catch {
    return text;
  }
}

// Runs `call`, which must fail with `status` (and `detail`, if given).
async function expectError(report, key, message, status, call, detail) {
  try {
    const value = await call();
    report.fail(key, `${message}: expected HTTP ${status}, the call succeeded with ${short(value)}`);
  } catch (error) {
    const seen = statusOf(error);
    const seenDetail = detailOf(error);
    if (seen === status && (detail === undefined || seenDetail === detail)) {
      report.ok(key, `${message} (${status}${detail ? ` "${detail}"` : ""})`);
    } else {
      report.fail(key, `${message}: expected HTTP ${status}${detail ? ` "${detail}"` : ""}, got ${short(error)}`);
    }
  }
}

// Runs one section of checks; an unexpected error ends the section with a cross but lets the
// next sections run (their checks do not depend on it). An Abort ends the part.
async function section(report, name, body) {
  try {
    await body();
  } catch (error) {
    if (error instanceof Abort) throw error;
    report.fail(name, `the ${name} checks stopped: ${short(error)}`);
  }
}

// Every event of a stream, as the client yields them.
async function collect(stream) {
  const events = [];
  for await (const part of stream) events.push(part);
  return events;
}

function messagesOf(values) {
  return Array.isArray(values?.messages) ? values.messages : [];
}

function lastAiText(values) {
  const ai = messagesOf(values).filter((m) => m.type === "ai");
  return ai.length ? ai[ai.length - 1].content : undefined;
}

function input(text) {
  return { messages: [{ role: "user", content: text }] };
}

// Steps 2 to 6 of the tutorial, then runs, streams, copies and history.
async function common(report, url) {
  const alice = client(url, ALICE_TOKEN);
  const bob = client(url, BOB_TOKEN);

  // Alice's thread and run.
  let thread;
  try {
    thread = await alice.threads.create();
    report.ok("alice_thread", `Alice created thread: ${thread.thread_id}`);
  } catch (error) {
    report.fail("alice_thread", `Alice could not create a thread: ${short(error)}`);
    throw new Abort();
  }
  const t = thread.thread_id;
  report.check(
    "alice_thread_owner",
    thread.metadata?.owner === ALICE_ID,
    `Alice's thread is stamped owner=${ALICE_ID}`,
    thread.metadata,
  );
  let run;
  try {
    run = await alice.runs.create(t, GRAPH, { input: input(ALICE_TEXT) });
    report.ok("alice_run", `Alice created run ${run.run_id}`);
  } catch (error) {
    report.fail("alice_run", `Alice could not create a run: ${short(error)}`);
    throw new Abort();
  }
  const joined = await alice.runs.join(t, run.run_id);
  report.check(
    "alice_run_joined",
    lastAiText(joined) === ALICE_TEXT,
    "Alice joined her run and got the echo",
    joined,
  );
  const state = await alice.threads.getState(t);
  report.check(
    "alice_state",
    messagesOf(state.values).length === 2 && messagesOf(state.values)[0].content === ALICE_TEXT,
    "Alice's thread state holds her message and the reply",
    state.values,
  );

  // Bob on Alice's thread: 404 everywhere.
  await expectError(report, "bob_get_denied", "Bob's threads.get on Alice's thread", 404, () => bob.threads.get(t));
  await expectError(report, "bob_state_denied", "Bob's threads.getState on Alice's thread", 404, () =>
    bob.threads.getState(t),
  );
  await expectError(report, "bob_update_denied", "Bob's threads.update on Alice's thread", 404, () =>
    bob.threads.update(t, { metadata: { hacked: true } }),
  );
  await expectError(report, "bob_run_denied", "Bob's runs.create on Alice's thread", 404, () =>
    bob.runs.create(t, GRAPH, { input: input("mine now") }),
  );
  await expectError(report, "bob_join_denied", "Bob's runs.join of Alice's run", 404, () =>
    bob.runs.join(t, run.run_id),
  );
  await expectError(report, "bob_delete_denied", "Bob's threads.delete of Alice's thread", 404, () =>
    bob.threads.delete(t),
  );
  const intact = await alice.threads.get(t);
  report.check(
    "alice_thread_intact",
    intact.metadata?.owner === ALICE_ID && !("hacked" in (intact.metadata ?? {})) &&
      messagesOf(intact.values).length === 2,
    "Alice's thread is unchanged",
    intact,
  );

  // Bob's own thread.
  const bobThread = await bob.threads.create();
  report.check("bob_thread", bobThread.metadata?.owner === BOB_ID, `Bob created thread: ${bobThread.thread_id}`, bobThread);
  const bobRun = await bob.runs.create(bobThread.thread_id, GRAPH, { input: input(BOB_TEXT) });
  report.check("bob_run", typeof bobRun.run_id === "string", `Bob created run ${bobRun.run_id}`, bobRun);
  const bobWait = await bob.runs.wait(bobThread.thread_id, GRAPH, { input: input(BOB_SECOND_TEXT) });
  report.check(
    "bob_wait",
    lastAiText(bobWait) === BOB_SECOND_TEXT && messagesOf(bobWait).length === 4,
    "Bob's runs.wait answered after his first run",
    bobWait,
  );

  const aliceFound = await alice.threads.search();
  report.check(
    "alice_search",
    aliceFound.length === 1 && aliceFound[0].thread_id === t,
    "Alice's threads.search lists her thread only",
    aliceFound.map((x) => x.thread_id),
  );
  const bobFound = await bob.threads.search();
  report.check(
    "bob_search",
    bobFound.length === 1 && bobFound[0].thread_id === bobThread.thread_id,
    "Bob's threads.search lists his thread only",
    bobFound.map((x) => x.thread_id),
  );
  const widened = await bob.threads.search({ metadata: { owner: ALICE_ID } });
  report.check(
    "bob_search_widen",
    !widened.some((x) => x.metadata?.owner === ALICE_ID),
    "Bob's search with owner=user1 lists none of Alice's threads",
    widened,
  );

  await section(report, "runs and streams", () => runsAndStreams(report, url, alice, bob, t, run));
  await section(report, "copy", () => copies(report, alice, bob, t));
  await section(report, "history", () => historyChecks(report, alice, bob, t));
  return { alice, bob };
}

async function runsAndStreams(report, url, alice, bob, t, run) {
  // runs.wait on Alice's thread.
  const waited = await alice.runs.wait(t, GRAPH, { input: input("second") });
  report.check(
    "alice_wait",
    lastAiText(waited) === "second" && messagesOf(waited).length === 4,
    "Alice's runs.wait returns the thread's values with the echo",
    waited,
  );

  // runs.stream with stream modes.
  const streamed = await collect(
    alice.runs.stream(t, GRAPH, {
      input: input("streamed"),
      streamMode: ["values", "updates", "messages-tuple"],
    }),
  );
  const kinds = streamed.map((e) => e.event);
  const values = streamed.find((e) => e.event === "values")?.data;
  const updates = streamed.find((e) => e.event === "updates")?.data;
  report.check(
    "alice_stream_modes",
    kinds[0] === "metadata" && typeof streamed[0].data?.run_id === "string" &&
      lastAiText(values) === "streamed" && messagesOf(values).length === 6 &&
      updates?.echo?.messages?.length === 1 && updates.echo.messages[0].content === "streamed",
    `Alice's runs.stream sent ${kinds.join(", ")}`,
    streamed,
  );
  const tuple = streamed.find((e) => e.event === "messages")?.data;
  report.check(
    "alice_stream_messages",
    Array.isArray(tuple) && tuple[0]?.type === "ai" && tuple[0]?.content === "streamed" &&
      tuple[1]?.langgraph_node === "echo",
    "the messages-tuple mode streams the reply with its node",
    tuple,
  );
  const stateless = await collect(alice.runs.stream(null, GRAPH, { input: input("no thread"), streamMode: "values" }));
  report.check(
    "alice_stream_stateless",
    lastAiText(stateless.find((e) => e.event === "values")?.data) === "no thread",
    "a stateless runs.stream answers on an empty state",
    stateless,
  );

  // joinStream: Alice gets her run's values; Bob, an error event (not a thrown error).
  const own = await collect(alice.runs.joinStream(t, run.run_id));
  report.check(
    "alice_join_stream",
    own.some((e) => e.event === "values" && messagesOf(e.data).length >= 2) && !own.some((e) => e.event === "error"),
    "Alice's runs.joinStream of her run yields its values",
    own,
  );
  const isNotFoundEvent = (events) =>
    events.length === 1 && events[0].event === "error" &&
    typeof events[0].data?.message === "string" && events[0].data.message.startsWith("404: ");
  let denied;
  try {
    denied = await collect(bob.runs.joinStream(t, run.run_id));
  } catch (error) {
    denied = error;
  }
  report.check(
    "bob_join_stream_error",
    Array.isArray(denied) && isNotFoundEvent(denied),
    "Bob's runs.joinStream of Alice's run yields one error event \"404: …\"",
    denied,
  );
  let absent;
  try {
    absent = await collect(bob.runs.joinStream(RANDOM_ID, run.run_id));
  } catch (error) {
    absent = error;
  }
  report.check(
    "bob_join_stream_absent",
    Array.isArray(absent) && isNotFoundEvent(absent) &&
      absent[0].data.message.replace(RANDOM_ID, "ID") === denied?.[0]?.data?.message?.replace(t, "ID"),
    "a random thread id yields the same error event",
    absent,
  );
  let threadStream;
  try {
    threadStream = await collect(bob.threads.joinStream(t));
  } catch (error) {
    threadStream = error;
  }
  report.check(
    "bob_thread_stream_error",
    Array.isArray(threadStream) && isNotFoundEvent(threadStream),
    "Bob's threads.joinStream of Alice's thread yields one error event",
    threadStream,
  );
  await expectError(report, "bob_stream_denied", "Bob's runs.stream on Alice's thread (refused before the stream)", 404, () =>
    collect(bob.runs.stream(t, GRAPH, { input: input("mine now") })),
  );
  await expectError(report, "anonymous_join_stream_401", "a joinStream without a token", 401, () =>
    collect(client(url, null).runs.joinStream(t, run.run_id)),
  );

}

async function copies(report, alice, bob, t) {
  await expectError(report, "bob_copy_409", "Bob's threads.copy of Alice's thread", 409, () => bob.threads.copy(t));
  await expectError(report, "bob_copy_absent_409", "Bob's threads.copy of a random id", 409, () =>
    bob.threads.copy(RANDOM_ID),
  );
  const copy = await alice.threads.copy(t);
  report.check(
    "alice_copy",
    copy.thread_id !== t && copy.metadata?.owner === ALICE_ID && messagesOf(copy.values).length === 6,
    "Alice's threads.copy keeps her values and ownership",
    copy,
  );

}

// History: three runs on `t` (create, wait, stream), three checkpoints each (input, loop, loop).
async function historyChecks(report, alice, bob, t) {
  const history = await alice.threads.getHistory(t, { limit: 100 });
  const steps = history.map((s) => s.metadata?.step);
  const sources = history.map((s) => s.metadata?.source);
  const expectedSteps = [7, 6, 5, 4, 3, 2, 1, 0, -1];
  const expectedSources = ["loop", "loop", "input", "loop", "loop", "input", "loop", "loop", "input"];
  const last = history[0];
  report.check(
    "alice_history",
    JSON.stringify(steps) === JSON.stringify(expectedSteps) &&
      JSON.stringify(sources) === JSON.stringify(expectedSources) &&
      JSON.stringify(history.map((s) => s.next)) ===
        JSON.stringify([[], ["echo"], ["__start__"], [], ["echo"], ["__start__"], [], ["echo"], ["__start__"]]) &&
      last.metadata.writes?.echo?.messages?.[0]?.content === "streamed" &&
      history[2].metadata.writes?.__start__?.messages?.[0]?.content === "streamed" &&
      history[1].tasks?.[0]?.name === "echo" && history[8].tasks?.[0]?.name === "__start__",
    "threads.getHistory lists input and loop checkpoints per run, with step, source, next, writes and tasks",
    history.map((s) => [s.metadata?.step, s.metadata?.source, s.next]),
  );
  const chained = history.every((s, i) =>
    i === history.length - 1
      ? s.parent_checkpoint == null
      : s.parent_checkpoint?.checkpoint_id === history[i + 1].checkpoint.checkpoint_id,
  );
  report.check("alice_history_parents", chained, "each checkpoint's parent is the one before it", history.map((s) => s.parent_checkpoint));
  const page = await alice.threads.getHistory(t, { limit: 2, before: history[2].checkpoint });
  report.check(
    "alice_history_page",
    page.length === 2 && page[0].checkpoint.checkpoint_id === history[3].checkpoint.checkpoint_id,
    "threads.getHistory pages with limit and before",
    page.map((s) => s.checkpoint.checkpoint_id),
  );

  // Time travel: the state at the end of the first run, by id and by checkpoint object.
  const firstEnd = history[6];
  const byId = await alice.threads.getState(t, firstEnd.checkpoint.checkpoint_id);
  const byObject = await alice.threads.getState(t, firstEnd.checkpoint);
  report.check(
    "alice_state_at_checkpoint",
    messagesOf(byId.values).length === 2 && byId.checkpoint.checkpoint_id === firstEnd.checkpoint.checkpoint_id &&
      byObject.checkpoint.checkpoint_id === firstEnd.checkpoint.checkpoint_id && byId.metadata.step === 1,
    "threads.getState at an older checkpoint (by id and by object)",
    [byId, byObject],
  );
  const forked = await alice.threads.updateState(t, {
    values: { messages: [{ role: "user", content: "what if" }] },
    checkpoint: firstEnd.checkpoint,
  });
  const afterFork = await alice.threads.getState(t);
  report.check(
    "alice_fork",
    afterFork.checkpoint.checkpoint_id === forked?.checkpoint?.checkpoint_id &&
      afterFork.parent_checkpoint?.checkpoint_id === firstEnd.checkpoint.checkpoint_id &&
      afterFork.metadata.source === "update" && afterFork.metadata.step === 2 &&
      JSON.stringify(messagesOf(afterFork.values).map((m) => m.content)) ===
        JSON.stringify([ALICE_TEXT, ALICE_TEXT, "what if"]),
    "threads.updateState with an older checkpoint forks from it",
    afterFork,
  );
  await expectError(report, "bob_history_denied", "Bob's threads.getHistory of Alice's thread", 404, () =>
    bob.threads.getHistory(t),
  );
  await expectError(report, "bob_fork_denied", "Bob's threads.updateState at Alice's checkpoint", 404, () =>
    bob.threads.updateState(t, { values: {}, checkpoint: firstEnd.checkpoint }),
  );
}

async function part1(report, url) {
  const alice = client(url, ALICE_TOKEN);
  let assistant;
  try {
    assistant = await alice.assistants.create({ graphId: GRAPH });
    report.ok("alice_assistant", `Alice created assistant: ${assistant.assistant_id}`);
  } catch (error) {
    report.fail("alice_assistant", `Alice could not create an assistant: ${short(error)}`);
  }
  const { bob } = await common(report, url);
  if (assistant) {
    await expectError(report, "bob_assistant_denied", "Bob's assistants.get of Alice's assistant", 404, () =>
      bob.assistants.get(assistant.assistant_id),
    );
  }

  await section(report, "store", () => ownerFilteredStore(report, alice, bob));
}

// The store under the global handler's filter {"owner": me}, matched against each item.
async function ownerFilteredStore(report, alice, bob) {
  const ns = ["notes", "shared"];
  try {
    await alice.store.putItem(ns, "a1", { owner: ALICE_ID, text: "hers" });
    const got = await alice.store.getItem(ns, "a1");
    report.check("alice_store_put", got?.value?.text === "hers", "Alice put and got an item she owns", got);
  } catch (error) {
    report.fail("alice_store_put", `Alice's store put/get failed: ${short(error)}`);
  }
  await expectError(report, "alice_store_unowned_denied", "Alice's put of an item her filter refuses", 403, () =>
    alice.store.putItem(ns, "a2", { text: "nobody's" }), STORE_DENIED,
  );
  await expectError(report, "bob_store_get_hidden", "Bob's store.getItem of Alice's item", 404, () =>
    bob.store.getItem(ns, "a1"),
  );
  const found = await bob.store.searchItems(["notes"]);
  report.check("bob_store_search_hidden", found.items.length === 0, "Bob's store.searchItems finds none of Alice's items", found);
  await expectError(report, "bob_store_delete_hidden", "Bob's store.deleteItem of Alice's item", 404, () =>
    bob.store.deleteItem(ns, "a1"),
  );
  await expectError(report, "bob_store_overwrite_hidden", "Bob's store.putItem over Alice's item", 404, () =>
    bob.store.putItem(ns, "a1", { owner: BOB_ID, text: "his now" }),
  );
  const aliceNs = await alice.store.listNamespaces();
  const bobNs = await bob.store.listNamespaces();
  const still = await alice.store.getItem(ns, "a1");
  report.check(
    "store_namespaces_filtered",
    JSON.stringify(aliceNs.namespaces) === JSON.stringify([ns]) && bobNs.namespaces.length === 0 &&
      still?.value?.text === "hers",
    "store.listNamespaces lists Alice's namespace to her only; her item is intact",
    [aliceNs, bobNs, still],
  );
}

async function part2(report, url) {
  const { alice, bob } = await common(report, url);
  try {
    await alice.store.putItem([ALICE_ID, "notes"], "n1", { text: "mine" });
    const got = await alice.store.getItem([ALICE_ID, "notes"], "n1");
    report.check("alice_store_own", got?.value?.text === "mine", "Alice put and got an item under her namespace", got);
  } catch (error) {
    report.fail("alice_store_own", `Alice's store put/get failed: ${short(error)}`);
  }
  await expectError(report, "alice_store_other_denied", "Alice's put under Bob's namespace", 403, () =>
    alice.store.putItem([BOB_ID, "notes"], "n1", { text: "planted" }), STORE_DENIED,
  );
  await expectError(report, "bob_store_read_denied", "Bob's get under Alice's namespace", 403, () =>
    bob.store.getItem([ALICE_ID, "notes"], "n1"), STORE_DENIED,
  );
  await section(report, "store namespaces", async () => {
    const listed = await alice.store.listNamespaces({ prefix: [ALICE_ID] });
    let bobListed;
    try {
      bobListed = await bob.store.listNamespaces({ prefix: [ALICE_ID] });
    } catch (error) {
      bobListed = statusOf(error);
    }
    report.check(
      "store_namespaces_scoped",
      JSON.stringify(listed.namespaces) === JSON.stringify([[ALICE_ID, "notes"]]) && bobListed === 403,
      "store.listNamespaces under Alice's prefix: hers to her, 403 to Bob",
      [listed, bobListed],
    );
  });
  await expectError(report, "alice_assistant_denied", "Alice's assistants.create", 403, () =>
    alice.assistants.create({ graphId: GRAPH }), ASSISTANTS_DENIED,
  );
  await expectError(report, "alice_assistant_search_denied", "Alice's assistants.search", 403, () =>
    alice.assistants.search(), ASSISTANTS_DENIED,
  );
  const again = await alice.threads.create();
  report.check("alice_thread_again", again.metadata?.owner === ALICE_ID, "Alice can still create a thread", again);
}

// The store under `Filter::contains("namespace", me)`: the filter sees each item's namespace and
// key, which a value cannot fake.
async function part3(report, url) {
  const alice = client(url, ALICE_TOKEN);
  const bob = client(url, BOB_TOKEN);
  await section(report, "namespaced store", async () => {
    try {
      await alice.store.putItem([ALICE_ID, "notes"], "a1", { text: "hers" });
      await alice.store.putItem(["team", ALICE_ID], "t1", { text: "hers too" });
      const got = await alice.store.getItem(["team", ALICE_ID], "t1");
      report.check("alice_store_put_own", got?.value?.text === "hers too", "Alice puts and gets items under namespaces naming her", got);
    } catch (error) {
      report.fail("alice_store_put_own", `Alice's own puts failed: ${short(error)}`);
    }
    await expectError(report, "alice_store_put_other_denied", "Alice's put under a namespace without her id", 403, () =>
      alice.store.putItem([BOB_ID, "notes"], "x", { namespace: [ALICE_ID] }), STORE_DENIED,
    );
    try {
      await bob.store.putItem([BOB_ID, "notes"], "b1", { text: "his", namespace: [ALICE_ID], key: "a1" });
      report.ok("bob_store_put_spoofing", "Bob put an item whose value claims Alice's namespace");
    } catch (error) {
      report.fail("bob_store_put_spoofing", `Bob's put failed: ${short(error)}`);
    }
    const found = await alice.store.searchItems([]);
    const keys = found.items.map((i) => i.key).sort();
    report.check(
      "alice_store_search_own",
      JSON.stringify(keys) === JSON.stringify(["a1", "t1"]) && found.items.every((i) => i.namespace.includes(ALICE_ID)),
      "Alice's store.searchItems finds her two items only (not Bob's, whatever its value says)",
      found,
    );
    await expectError(report, "alice_store_get_hidden", "Alice's store.getItem of Bob's item", 404, () =>
      alice.store.getItem([BOB_ID, "notes"], "b1"),
    );
    await expectError(report, "alice_store_delete_hidden", "Alice's store.deleteItem of Bob's item", 404, () =>
      alice.store.deleteItem([BOB_ID, "notes"], "b1"),
    );
    const aliceNs = await alice.store.listNamespaces();
    const bobNs = await bob.store.listNamespaces();
    const kept = await bob.store.getItem([BOB_ID, "notes"], "b1");
    report.check(
      "store_namespaces_containing_id",
      JSON.stringify(aliceNs.namespaces) === JSON.stringify([["team", ALICE_ID], [ALICE_ID, "notes"]]) &&
        JSON.stringify(bobNs.namespaces) === JSON.stringify([[BOB_ID, "notes"]]) && kept?.value?.text === "his",
      "store.listNamespaces lists to each user the namespaces holding their items; Bob's item is intact",
      [aliceNs, bobNs, kept],
    );
  });
  await section(report, "namespaced threads", async () => {
    const thread = await alice.threads.create();
    let hidden;
    try {
      await bob.threads.get(thread.thread_id);
    } catch (error) {
      hidden = statusOf(error);
    }
    report.check(
      "namespaced_threads_private",
      thread.metadata?.owner === ALICE_ID && hidden === 404,
      "threads stay private under the namespaced policy (the global handler)",
      [thread.metadata, hidden],
    );
  });
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--url") args.url = argv[++i];
    else if (argv[i] === "--part") args.part = argv[++i];
  }
  if (!args.url || !["1", "2", "3"].includes(args.part)) {
    console.error("usage: node tutorial_client.mjs --url URL --part 1|2|3");
    process.exit(2);
  }
  return args;
}

async function main() {
  const { url, part } = parseArgs(process.argv.slice(2));
  const parts = { 1: [PART1, part1], 2: [PART2, part2], 3: [PART3, part3] };
  const [expected, play] = parts[part];
  const report = new Report(expected);
  try {
    await play(report, url);
  } catch (error) {
    if (!(error instanceof Abort)) {
      report.fail("crash", `the part stopped: ${short(error)}${error?.stack ? `\n${error.stack}` : ""}`);
    }
  }
  process.exitCode = report.finish();
}

await main();
