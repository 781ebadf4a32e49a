package io.meridian.cluster.watch;

import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchResponse;
import io.meridian.cluster.internal.Change;
import io.meridian.cluster.internal.StateReader;
import io.meridian.cluster.kv.KeyRange;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the watches of one shard replica from its applied state, on any member: leader or
 * follower.
 *
 * <p>One dispatcher thread owns every watch's progress. Applied revisions are handed to it in
 * order; it matches their key changes against the watched keys and ranges (watches of one range
 * share one match, so 10,000 watchers of a prefix cost one comparison per change) and queues one
 * response per watch and revision. A watch that starts in the past first replays the retained
 * history in chunks of whole revisions, paced by its stream's queue, then joins the live watches;
 * since both run on the dispatcher thread, no revision is missed or sent twice in between.
 *
 * <p>A member that has had no leader for a while fails its watches with {@code UNAVAILABLE} rather
 * than let them go silently stale; after a snapshot install every watch replays from where it was.
 *
 * <p>It is longer than our other classes because the dispatcher's invariants (no revision missed or
 * sent twice between replay and live delivery, per-stream pacing) hold only if every path that
 * moves a watch runs on the one dispatcher thread, in this class.
 */
public final class WatchHub implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WatchHub.class);

  /**
   * @param progressIntervalMs how often idle watches that asked for it get a progress notification
   * @param replayEvents events per replay chunk (a chunk never splits a revision)
   * @param replayBytes value bytes per replay chunk
   */
  public record Options(long progressIntervalMs, int replayEvents, long replayBytes) {}

  private final int shard;
  private final StateReader<? extends WatchedState> state;
  private final UnaryOperator<ResponseHeader> headers;
  private final Options options;
  private final ScheduledExecutorService dispatcher;
  private final AtomicInteger watchCount = new AtomicInteger();
  private volatile MeridianException unavailable;

  // Dispatcher thread only.
  private long dispatched = -1;
  private long epoch;
  private Role role = Role.ROLE_UNSPECIFIED;
  private final Map<String, Set<Watch>> byKey = new HashMap<>();
  private final Map<KeyRange, Set<Watch>> byRange = new HashMap<>();
  private final Set<Watch> replaying = new LinkedHashSet<>();

  /**
   * @param headers completes a header (shard, region, member, leader, term) around a position
   */
  public WatchHub(
      int shard,
      StateReader<? extends WatchedState> state,
      UnaryOperator<ResponseHeader> headers,
      Options options,
      String member) {
    this.shard = shard;
    this.state = state;
    this.headers = headers;
    this.options = options;
    this.dispatcher =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "meridian-watch-" + member + "-shard-" + shard);
              t.setDaemon(true);
              return t;
            });
  }

  /** Starts dispatching at the replica's current revision. Call after the apply hook is set. */
  public void start() {
    dispatcher.execute(this::resync);
    dispatcher.scheduleWithFixedDelay(
        this::progressTick,
        options.progressIntervalMs(),
        options.progressIntervalMs(),
        TimeUnit.MILLISECONDS);
  }

  /** Number of watches being served. */
  public int watches() {
    return watchCount.get();
  }

  /**
   * Hands an applied write to the dispatcher. Called on the apply thread, in revision order.
   *
   * @param changes the command's changes, all at {@code revision}
   */
  public void applied(long revision, long epoch, Role role, List<Change> changes) {
    // With no watch there is nothing to dispatch: the first watch to begin reads the position
    // from the state instead (begin() counts itself before it reads, so no write falls between).
    if (watchCount.get() > 0) {
      dispatcher.execute(() -> dispatch(revision, epoch, role, changes));
    }
  }

  /**
   * Creates a watch on {@code stream}. Checks run here, so a bad request fails at once; the watch
   * then starts on the dispatcher.
   *
   * @return the watch id
   * @throws MeridianException INVALID_ARGUMENT, KEY_TOO_LARGE, COMPACTED (details
   *     "compact_revision"), HISTORY_DIVERGED or UNAVAILABLE
   */
  public long create(WatchStream stream, WatchCreateRequest request) {
    KeyRange range = KeyRange.of(request.getKey(), request.getRangeEnd(), request.getPrefix());
    long start = request.getStartRevision();
    if (start < 0) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "start_revision: %d (expected: >= 0)", start);
    }
    MeridianException down = unavailable;
    if (down != null) {
      throw down;
    }
    boolean behind =
        start > 0
            && state.read(
                s -> {
                  s.checkWatchable(start);
                  // A member that has not applied the caller's position yet (a restarted one
                  // replaying its log, a lagging follower) cannot tell whether it lies on its
                  // history: begin() checks once it has.
                  if (s.revision() < start - 1) {
                    return true;
                  }
                  s.checkPosition(request.getStartEpoch(), start - 1);
                  return false;
                });
    long id = stream.reserveId(request.getWatchId());
    Watch watch =
        new Watch(
            id,
            stream,
            range,
            request.getPrevKv(),
            request.getProgressNotify(),
            start,
            behind ? request.getStartEpoch() : 0);
    stream.register(watch, this);
    dispatcher.execute(() -> begin(watch));
    return id;
  }

  /**
   * Cancels watch {@code id} of {@code stream}: its last response says {@code canceled}. An id that
   * is not live on the stream gets a canceled response with NOT_FOUND.
   */
  public void cancel(WatchStream stream, long id) {
    WatchStream.Registration r = stream.registration(id);
    if (r == null) {
      refuse(
          stream,
          id,
          MeridianException.of(Error.Code.NOT_FOUND, "watch %d: not live on this stream", id));
      return;
    }
    dispatcher.execute(
        () -> {
          if (!r.watch().ended) {
            end(r.watch(), null);
          }
        });
  }

  /** Answers a create or cancel request that failed: a canceled response carrying the error. */
  public void refuse(WatchStream stream, long id, MeridianException error) {
    dispatcher.execute(
        () -> {
          stream.offer(
              canceled(
                  WatchResponse.newBuilder()
                      .setHeader(header(Math.max(dispatched, 0)))
                      .setWatchId(id),
                  error));
        });
  }

  /** Sends a progress notification to every watch of {@code stream} that is live on this hub. */
  public void progress(WatchStream stream) {
    dispatcher.execute(
        () -> {
          for (WatchStream.Registration r : stream.registrations()) {
            if (r.hub() == this && r.watch().synced && !r.watch().ended) {
              stream.offer(progressResponse(r.watch()));
            }
          }
        });
  }

  /** Forgets a watch whose stream ended; sends nothing. */
  void remove(Watch watch) {
    dispatcher.execute(
        () -> {
          if (!watch.ended) {
            watch.ended = true;
            detach(watch);
          }
        });
  }

  /**
   * This member lost its leader: fails every watch with {@code error} and refuses new ones until
   * {@link #available()}.
   */
  public void unavailable(MeridianException error) {
    if (unavailable != null) {
      return;
    }
    unavailable = error;
    dispatcher.execute(
        () -> {
          List<Watch> open = List.copyOf(allWatches());
          for (Watch w : open) {
            end(w, error);
          }
          // A member waiting for its first leader at start has no watches: nothing went wrong.
          if (open.isEmpty()) {
            log.info("shard={} refuses new watches: {}", shard, error.getMessage());
          } else {
            log.warn("shard={} {} watches failed: {}", shard, open.size(), error.getMessage());
          }
        });
  }

  /** This member has a leader again: new watches are accepted. */
  public void available() {
    unavailable = null;
  }

  /** The replica's state was replaced by an installed snapshot: every watch replays from there. */
  public void reloaded() {
    dispatcher.execute(this::resync);
  }

  /**
   * The replica's state was replaced at {@code revision} by a reset from another cluster's
   * snapshot: a history break. A watch that had seen less than {@code revision} ends with COMPACTED
   * (details "compact_revision": the history before it is gone); one that had seen more, or whose
   * position is not on the new state's history, ends with HISTORY_DIVERGED; one that had seen
   * exactly {@code revision} of the same history goes on from there.
   */
  public void reset(long revision) {
    dispatcher.execute(() -> breakAt(revision));
  }

  // ---- Dispatcher thread ----

  private void breakAt(long revision) {
    // Every write before the reset was dispatched already: this is the position watchers saw.
    long before = epoch;
    for (Watch w : allWatches()) {
      MeridianException broken = historyBreak(seen(w), before, revision);
      if (broken != null) {
        end(w, broken);
      }
    }
    resync();
  }

  private MeridianException historyBreak(long seen, long seenEpoch, long revision) {
    if (seen < revision) {
      return new MeridianException(
          Error.Code.COMPACTED,
          String.format(
              "shard %d was reset from a snapshot at revision %d: revisions up to it are"
                  + " compacted; re-read the state and watch from revision %d",
              shard, revision, revision + 1),
          Map.of("compact_revision", Long.toString(revision)));
    }
    try {
      if (seen > revision) {
        throw MeridianException.of(
            Error.Code.HISTORY_DIVERGED,
            "position (epoch %d, revision %d): shard %d was reset from a snapshot at revision %d,"
                + " which does not have it; re-read the state and resume from its revision",
            seenEpoch,
            seen,
            shard,
            revision);
      }
      state.read(
          s -> {
            s.checkPosition(seenEpoch, seen);
            return null;
          });
      return null;
    } catch (MeridianException e) {
      return e;
    }
  }

  /** The state's revision, epoch and role. */
  private long[] statePosition() {
    return state.read(s -> new long[] {s.revision(), s.epoch(), s.role().getNumber()});
  }

  private void resync() {
    long[] position = statePosition();
    dispatched = position[0];
    epoch = position[1];
    role = Role.forNumber((int) position[2]);
    for (Watch w : allWatches()) {
      if (w.synced) {
        // Still served (and counted): it only leaves the live index while it replays.
        unindex(w);
        replaying.add(w);
        replay(w);
      }
    }
  }

  /**
   * Takes the state's position: every write handed over before it has been dispatched already (this
   * thread runs tasks in order), so the state is at least as new.
   */
  private void catchUpPosition() {
    long[] position = statePosition();
    dispatched = Math.max(dispatched, position[0]);
    epoch = position[1];
    role = Role.forNumber((int) position[2]);
  }

  private void dispatch(long revision, long epoch, Role role, List<Change> changes) {
    if (dispatched < 0 || revision <= dispatched) {
      return; // Covered by the state read at start or by a reload.
    }
    if (revision > dispatched + 1) {
      // Revisions are consecutive, so some were never handed over: live watches would skip them
      // silently. The state has them (it is applied before they are handed over): replay.
      log.warn(
          "shard={} revisions {}..{} never reached the watch dispatcher; replaying them to {}"
              + " watches from the state",
          shard,
          dispatched + 1,
          revision - 1,
          watchCount.get());
      resync();
      if (revision <= dispatched) {
        return;
      }
    }
    try {
      deliver(revision, epoch, role, changes);
    } catch (RuntimeException e) {
      // A watch that was not sent this revision must not go on past it: replay from the state.
      log.error(
          "shard={} revision={} watch delivery failed; replaying from the state",
          shard,
          revision,
          e);
      resync();
    }
  }

  private void deliver(long revision, long epoch, Role role, List<Change> changes) {
    dispatched = revision;
    this.epoch = epoch;
    this.role = role;
    List<Change> keyChanges = new ArrayList<>(changes.size());
    for (Change c : changes) {
      if (c instanceof Change.KvPut || c instanceof Change.KvDelete) {
        keyChanges.add(c);
      }
    }
    if (keyChanges.isEmpty() || watchCount.get() == 0) {
      return;
    }
    keyChanges.sort(Comparator.comparing(WatchHub::keyOf, KeyPath.ORDER));
    Map<Set<Watch>, List<Change>> matched = new IdentityHashMap<>();
    for (Change c : keyChanges) {
      Set<Watch> exact = byKey.get(keyOf(c));
      if (exact != null) {
        matched.computeIfAbsent(exact, k -> new ArrayList<>()).add(c);
      }
    }
    for (Map.Entry<KeyRange, Set<Watch>> e : byRange.entrySet()) {
      for (Change c : keyChanges) {
        if (e.getKey().contains(keyOf(c))) {
          matched.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(c);
        }
      }
    }
    if (matched.isEmpty()) {
      return;
    }
    ResponseHeader header = header(revision);
    for (Map.Entry<Set<Watch>, List<Change>> e : matched.entrySet()) {
      List<Event> withPrev = null;
      List<Event> withoutPrev = null;
      for (Watch w : List.copyOf(e.getKey())) {
        if (revision < w.next) {
          continue; // Starts at a later revision.
        }
        List<Event> events;
        if (w.prevKv) {
          events = withPrev == null ? (withPrev = events(e.getValue(), true)) : withPrev;
        } else {
          events = withoutPrev == null ? (withoutPrev = events(e.getValue(), false)) : withoutPrev;
        }
        w.next = revision + 1;
        w.active = true;
        w.stream.offer(
            WatchResponse.newBuilder()
                .setHeader(header)
                .setWatchId(w.id)
                .addAllEvents(events)
                .build());
      }
    }
  }

  private void begin(Watch w) {
    if (w.ended) {
      return;
    }
    if (w.stream.isClosed()) {
      // The stream may have closed before the watch was registered on it, and then nothing would
      // remove the watch: it would be served, and counted, forever. A stream that closes after
      // this check sees the registration and removes the watch (after this task).
      w.ended = true;
      w.stream.unregister(w);
      return;
    }
    if (dispatched < 0) {
      dispatcher.schedule(() -> begin(w), 10, TimeUnit.MILLISECONDS);
      return;
    }
    if (unavailable != null) {
      end(w, unavailable);
      return;
    }
    if (w.uncheckedEpoch > 0) {
      boolean reached;
      try {
        reached =
            state.read(
                s -> {
                  if (s.revision() < w.next - 1) {
                    return false;
                  }
                  s.checkPosition(w.uncheckedEpoch, w.next - 1);
                  return true;
                });
      } catch (MeridianException e) {
        end(w, e);
        return;
      }
      if (!reached) {
        // Not applied that far yet: it will be, or the member loses its leader (unavailable).
        dispatcher.schedule(() -> begin(w), 10, TimeUnit.MILLISECONDS);
        return;
      }
      w.uncheckedEpoch = 0;
    }
    if (watchCount.getAndIncrement() == 0) {
      // Writes applied while no watch was served were not handed over.
      catchUpPosition();
    }
    long seen = w.next == 0 ? dispatched : Math.min(w.next - 1, dispatched);
    if (w.next == 0) {
      w.next = dispatched + 1;
    }
    w.stream.offer(
        WatchResponse.newBuilder()
            .setHeader(header(seen))
            .setWatchId(w.id)
            .setCreated(true)
            .build());
    if (w.next <= dispatched) {
      replaying.add(w);
      replay(w);
    } else {
      attach(w);
    }
  }

  /** Sends the next chunk of history; joins the live watches once it reached the present. */
  private void replay(Watch w) {
    if (w.ended || !replaying.contains(w)) {
      return;
    }
    if (!w.stream.hasRoom()) {
      dispatcher.schedule(() -> replay(w), 20, TimeUnit.MILLISECONDS);
      return;
    }
    long to = dispatched;
    List<Change> changes;
    try {
      changes = state.read(s -> s.changes(w.range, w.next, to));
    } catch (MeridianException e) {
      end(w, e);
      return;
    }
    int taken = 0;
    long bytes = 0;
    long last = w.next - 1;
    while (taken < changes.size()) {
      long revision = revisionOf(changes.get(taken));
      if (taken > 0 && (taken >= options.replayEvents() || bytes >= options.replayBytes())) {
        break;
      }
      while (taken < changes.size() && revisionOf(changes.get(taken)) == revision) {
        bytes += valueBytes(changes.get(taken));
        taken++;
      }
      last = revision;
    }
    boolean complete = taken == changes.size();
    long reached = complete ? to : last;
    if (taken > 0) {
      boolean sent =
          w.stream.offer(
              WatchResponse.newBuilder()
                  .setHeader(header(reached))
                  .setWatchId(w.id)
                  .addAllEvents(events(changes.subList(0, taken), w.prevKv))
                  .build());
      if (!sent) {
        return;
      }
      w.active = true;
    }
    // Never backwards: after the state went back to an older snapshot, a watch that was sent more
    // than the state has waits for it (the dispatcher skips what it already sent).
    w.next = Math.max(w.next, reached + 1);
    if (complete) {
      replaying.remove(w);
      attach(w);
    } else {
      dispatcher.execute(() -> replay(w));
    }
  }

  private void progressTick() {
    for (Watch w : allWatches()) {
      if (w.synced && w.progressNotify && !w.active) {
        w.stream.offer(progressResponse(w));
      }
      w.active = false;
    }
  }

  /** The revision up to which {@code w} has been sent every event. */
  private long seen(Watch w) {
    return w.synced ? Math.max(dispatched, w.next - 1) : w.next - 1;
  }

  private WatchResponse progressResponse(Watch w) {
    return WatchResponse.newBuilder()
        .setHeader(header(seen(w)))
        .setWatchId(w.id)
        .setProgress(true)
        .build();
  }

  /** Ends a watch: cancelled by its client ({@code error == null}) or failed. */
  private void end(Watch w, MeridianException error) {
    long seen = seen(w);
    w.ended = true;
    detach(w);
    // Free the id before the client can read the cancellation and reuse it.
    w.stream.unregister(w);
    w.stream.offer(
        canceled(WatchResponse.newBuilder().setHeader(header(seen)).setWatchId(w.id), error));
  }

  /** A watch's last response; with the error (and compaction revision) when it failed. */
  private static WatchResponse canceled(WatchResponse.Builder r, MeridianException error) {
    r.setCanceled(true);
    if (error != null) {
      r.setError(error.toError());
      String compact = error.details().get("compact_revision");
      if (compact != null) {
        r.setCompactRevision(Long.parseLong(compact));
      }
    }
    return r.build();
  }

  private void attach(Watch w) {
    w.synced = true;
    if (w.range.single()) {
      byKey.computeIfAbsent(w.range.start(), k -> new LinkedHashSet<>()).add(w);
    } else {
      byRange.computeIfAbsent(w.range, k -> new LinkedHashSet<>()).add(w);
    }
  }

  /** Stops serving {@code w}: out of the live index or the replays, and no longer counted. */
  private void detach(Watch w) {
    boolean counted = replaying.remove(w) || w.synced;
    unindex(w);
    if (counted) {
      watchCount.decrementAndGet();
    }
  }

  /** Takes {@code w} out of the live index; its count stays. */
  private void unindex(Watch w) {
    if (!w.synced) {
      return;
    }
    Map<?, Set<Watch>> index = w.range.single() ? byKey : byRange;
    Object k = w.range.single() ? w.range.start() : w.range;
    Set<Watch> group = index.get(k);
    if (group != null && group.remove(w) && group.isEmpty()) {
      index.remove(k);
    }
    w.synced = false;
  }

  private List<Watch> allWatches() {
    List<Watch> all = new ArrayList<>(replaying);
    byKey.values().forEach(all::addAll);
    byRange.values().forEach(all::addAll);
    return all;
  }

  private ResponseHeader header(long revision) {
    return headers.apply(
        ResponseHeader.newBuilder().setRevision(revision).setEpoch(epoch).setRole(role).build());
  }

  private static List<Event> events(List<Change> changes, boolean prevKv) {
    List<Event> out = new ArrayList<>(changes.size());
    for (Change c : changes) {
      Event.Builder e = Event.newBuilder();
      KeyValue prev;
      if (c instanceof Change.KvPut put) {
        e.setType(Event.EventType.PUT).setKv(put.kv());
        prev = put.prev();
      } else {
        Change.KvDelete delete = (Change.KvDelete) c;
        e.setType(Event.EventType.DELETE)
            .setKv(KeyValue.newBuilder().setKey(delete.key()).setModRevision(delete.revision()));
        prev = delete.prev();
      }
      if (prevKv && prev != null) {
        e.setPrevKv(prev);
      }
      out.add(e.build());
    }
    return out;
  }

  private static String keyOf(Change c) {
    return c instanceof Change.KvPut put ? put.kv().getKey() : ((Change.KvDelete) c).key();
  }

  private static long revisionOf(Change c) {
    return c instanceof Change.KvPut put
        ? put.kv().getModRevision()
        : ((Change.KvDelete) c).revision();
  }

  private static long valueBytes(Change c) {
    return c instanceof Change.KvPut put ? put.kv().getValue().size() : 0;
  }

  @Override
  public void close() {
    dispatcher.shutdownNow();
  }
}
