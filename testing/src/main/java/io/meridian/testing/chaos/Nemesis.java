package io.meridian.testing.chaos;

import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Injects faults into a {@link ChaosRegion} while a workload runs: one fault at a time, held for a
 * while, then healed, then a calm spell, until told to stop. The fault kinds come in rounds, each
 * kind once per round in a shuffled order, so that a short run still meets every kind. Every choice
 * (the order, which follower, how long) comes from one seeded {@link Random}, so a seed replays the
 * same schedule; which member is leader when a fault lands is the cluster's doing and is logged
 * beside it.
 */
public final class Nemesis {
  /** A kind of fault. */
  public enum Fault {
    /** SIGKILL the leader; restart it when healed. */
    KILL_LEADER,
    /** SIGKILL a follower; restart it when healed. */
    KILL_FOLLOWER,
    /** SIGSTOP the leader for longer than an election timeout; SIGCONT when healed. */
    PAUSE_LEADER,
    /** SIGSTOP a follower; SIGCONT when healed. */
    PAUSE_FOLLOWER,
    /**
     * SIGSTOP the leader for {@link #PAST_TTL}, longer than the lock workload's lease TTL, while
     * holders renew through its successor: on waking, its stale deadlines must not end those leases
     * (etcd #15247).
     */
    PAUSE_LEADER_PAST_TTL,
    /** Cut the leader off from its peers, both ways; clients still reach it. */
    ISOLATE_LEADER,
    /** Cut a follower off from its peers, both ways. */
    ISOLATE_FOLLOWER,
    /** The leader hears its peers but they do not hear it. */
    LEADER_DEAF_PEERS,
    /** The leader's outgoing link throttled to a trickle. */
    THROTTLE_LEADER,
    /** SIGKILL every member at once; restart them all when healed. */
    KILL_ALL,
    /**
     * Step the leader's wall clock forward or back by 10 s to 2 min; step it back when healed. The
     * node stamps wall time into commands and keeps its deadlines on the monotonic clock, which
     * cannot step: nothing the workloads check may notice.
     */
    STEP_LEADER_CLOCK,
    /** Step a follower's wall clock forward or back; step it back when healed. */
    STEP_FOLLOWER_CLOCK,
    /**
     * SIGKILL the region's router, with calls in flight through it; restart it on the same port
     * when healed. A write it forwarded may or may not have been applied.
     */
    KILL_ROUTER,
    /** SIGSTOP the router past its callers' deadlines; SIGCONT when healed. */
    PAUSE_ROUTER;

    /** Whether the fault needs the region to have a router. */
    public boolean hitsRouter() {
      return this == KILL_ROUTER || this == PAUSE_ROUTER;
    }

    /** Whether healing it starts processes again, which then take a while to serve. */
    public boolean restarts() {
      return this == KILL_LEADER
          || this == KILL_FOLLOWER
          || this == KILL_ALL
          || this == KILL_ROUTER;
    }
  }

  /** How long {@link Fault#PAUSE_LEADER_PAST_TTL} holds. */
  static final Duration PAST_TTL = Duration.ofSeconds(LockWorkload.TTL_SECONDS + 2);

  private final ChaosRegion region;
  private final Random random;
  private final List<Fault> faults;
  private final List<Fault> round = new ArrayList<>();
  private volatile int rounds;
  private final Duration hold;
  private final Duration calm;
  private final long started = System.nanoTime();
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final Set<Integer> killed = new TreeSet<>();
  private final Set<Integer> paused = new TreeSet<>();
  private final Set<Integer> stepped = new TreeSet<>();
  private final List<Spell> spells = new CopyOnWriteArrayList<>();
  private boolean routerKilled;
  private boolean routerPaused;
  private volatile boolean stopped;

  /**
   * A nemesis choosing among {@code faults}, holding each for {@code hold} (± half) and waiting
   * {@code calm} (± half) between them.
   */
  public Nemesis(ChaosRegion region, long seed, List<Fault> faults, Duration hold, Duration calm) {
    if (faults.isEmpty()) {
      throw new IllegalArgumentException("a nemesis needs at least one fault kind");
    }
    if (region.router() == null && faults.stream().anyMatch(Fault::hitsRouter)) {
      throw new IllegalArgumentException(
          "router faults " + faults + " need a region with a router");
    }
    this.region = region;
    this.random = new Random(seed);
    this.faults = List.copyOf(faults);
    this.hold = hold;
    this.calm = calm;
    note("seed " + seed + ", faults " + faults + ", hold " + hold + ", calm " + calm);
  }

  /** Injects and heals faults until {@link #stop()}, then heals whatever is still in force. */
  public void run() throws IOException, InterruptedException {
    try {
      while (!stopped) {
        sleep(jitter(calm));
        if (stopped) {
          break;
        }
        if (round.isEmpty()) {
          round.addAll(faults);
          Collections.shuffle(round, random);
        }
        Fault fault = round.remove(0);
        inject(fault);
        sleep(fault == Fault.PAUSE_LEADER_PAST_TTL ? PAST_TTL.toMillis() : jitter(hold));
        heal();
        if (round.isEmpty()) {
          rounds++;
        }
      }
    } finally {
      heal();
    }
  }

  /** How many rounds (every fault kind once) have been injected and healed. */
  public int rounds() {
    return rounds;
  }

  /** When one fault was in force, in System.nanoTime: healed is 0 until it is healed. */
  private static final class Spell {
    final long injected;
    final boolean restarts;
    volatile long healed;

    Spell(long injected, boolean restarts) {
      this.injected = injected;
      this.restarts = restarts;
    }
  }

  /**
   * Whether a fault was in force at some moment of {@code [from, to]} (System.nanoTime), or had
   * been healed less than {@code aftermath} before {@code from} ({@code restarted} for a fault
   * whose healing restarted processes, which then start and catch up): what a client saw go wrong
   * then may be the fault's doing.
   */
  public boolean disturbed(long from, long to, Duration aftermath, Duration restarted) {
    for (Spell spell : spells) {
      long grace = (spell.restarts ? restarted : aftermath).toNanos();
      long until = spell.healed == 0 ? Long.MAX_VALUE : spell.healed + grace;
      if (spell.injected <= to && from <= until) {
        return true;
      }
    }
    return false;
  }

  /** Ends {@link #run()} at its next step. */
  public void stop() {
    stopped = true;
  }

  /** What was done and when, one line per step. */
  public List<String> log() {
    return List.copyOf(log);
  }

  /** Writes the schedule to {@code file}. */
  public void write(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, log);
  }

  private void inject(Fault fault) throws IOException, InterruptedException {
    ProcessRegion nodes = region.nodes();
    // The choice of follower is drawn before the leader is known, so that it is the seed's.
    int pick = random.nextInt(nodes.size() - 1);
    long step = (random.nextBoolean() ? 1 : -1) * (10_000 + (long) random.nextInt(110_000));
    int leader = fault == Fault.KILL_ALL || fault.hitsRouter() ? -1 : nodes.awaitLeader();
    int follower = (leader + 1 + pick) % nodes.size();
    spells.add(new Spell(System.nanoTime(), fault.restarts()));
    switch (fault) {
      case KILL_LEADER -> kill(leader);
      case KILL_FOLLOWER -> kill(follower);
      case PAUSE_LEADER, PAUSE_LEADER_PAST_TTL -> pause(leader);
      case PAUSE_FOLLOWER -> pause(follower);
      case ISOLATE_LEADER -> region.network().isolate(leader);
      case ISOLATE_FOLLOWER -> region.network().isolate(follower);
      case LEADER_DEAF_PEERS -> {
        for (int other = 0; other < nodes.size(); other++) {
          if (other != leader) {
            region.network().cut(leader, other);
          }
        }
      }
      case THROTTLE_LEADER -> region.network().throttle(leader, 64);
      case STEP_LEADER_CLOCK -> stepClock(leader, step);
      case STEP_FOLLOWER_CLOCK -> stepClock(follower, step);
      case KILL_ALL -> {
        nodes.killAll();
        for (int i = 0; i < nodes.size(); i++) {
          killed.add(i);
        }
      }
      case KILL_ROUTER -> {
        region.router().process().kill();
        routerKilled = true;
      }
      case PAUSE_ROUTER -> {
        region.router().process().pause();
        routerPaused = true;
      }
    }
    note(
        fault
            + (leader >= 0
                ? " (leader n" + (leader + 1) + ", follower n" + (follower + 1) + ")"
                : "")
            + ": "
            + region.network().describe()
            + (killed.isEmpty() ? "" : ", killed " + names(killed))
            + (paused.isEmpty() ? "" : ", paused " + names(paused))
            + (routerKilled ? ", killed the router" : "")
            + (routerPaused ? ", paused the router" : "")
            + (stepped.isEmpty()
                ? ""
                : ", clock of " + names(stepped) + " stepped " + step + " ms"));
  }

  private void kill(int index) throws InterruptedException {
    region.nodes().kill(index);
    killed.add(index);
  }

  private void stepClock(int index, long offsetMs) throws IOException {
    region.nodes().stepClock(index, offsetMs);
    stepped.add(index);
  }

  private void pause(int index) throws IOException, InterruptedException {
    region.nodes().pause(index);
    paused.add(index);
  }

  /**
   * Ends every fault in force: heals the network, steps clocks back, resumes paused members,
   * restarts killed ones.
   */
  public synchronized void heal() throws IOException, InterruptedException {
    if (killed.isEmpty()
        && paused.isEmpty()
        && stepped.isEmpty()
        && !routerKilled
        && !routerPaused
        && region.network().describe().equals("healed")) {
      return;
    }
    region.network().heal();
    for (int index : stepped) {
      region.nodes().stepClock(index, 0);
    }
    for (int index : paused) {
      region.nodes().resume(index);
    }
    for (int index : killed) {
      region.nodes().start(index);
    }
    if (routerPaused) {
      region.router().process().resume();
    }
    if (routerKilled) {
      region.router().process().start();
    }
    note(
        "healed"
            + (killed.isEmpty() ? "" : ", restarted " + names(killed))
            + (routerKilled ? ", restarted the router" : ""));
    routerKilled = false;
    routerPaused = false;
    for (Spell spell : spells) {
      if (spell.healed == 0) {
        spell.healed = System.nanoTime();
      }
    }
    paused.clear();
    killed.clear();
    stepped.clear();
  }

  private static String names(Set<Integer> members) {
    List<String> names = new ArrayList<>();
    members.forEach(i -> names.add("n" + (i + 1)));
    return String.join(" ", names);
  }

  private long jitter(Duration base) {
    long millis = base.toMillis();
    return millis / 2 + (long) (random.nextDouble() * millis);
  }

  private void sleep(long millis) throws InterruptedException {
    long until = System.nanoTime() + millis * 1_000_000;
    while (!stopped && System.nanoTime() < until) {
      Thread.sleep(Math.min(100, Math.max(1, (until - System.nanoTime()) / 1_000_000)));
    }
  }

  private void note(String line) {
    long millis = (System.nanoTime() - started) / 1_000_000;
    log.add(String.format("%7.1f s  %s", millis / 1000.0, line));
  }
}
