package io.meridian.ctl;

import io.meridian.api.KeyPath;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockInspectRequest;
import io.meridian.api.v1.LockInspectResponse;
import io.meridian.api.v1.LockOwner;
import io.meridian.client.LockClient;
import io.meridian.client.LockHandle;
import io.meridian.client.MeridianClient;
import io.meridian.client.Session;
import io.meridian.client.Stubs;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.Charset;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl lock NAME [-- COMMAND...]} and {@code lock inspect NAME}, as etcdctl's {@code
 * lock}.
 *
 * <p>The lock is held through a lease of its own ({@code --ttl}), kept alive while the command
 * runs. Without COMMAND it is held until the process is stopped (Ctrl-C or SIGTERM release it) or
 * lost (exit 1). With COMMAND it is held while COMMAND runs, which sees the lock in {@value
 * #TOKEN_ENV} and {@value #NAME_ENV}; the exit code is COMMAND's. If the lock is lost first,
 * COMMAND and its descendants are stopped (SIGTERM, then SIGKILL after {@link #STOP_GRACE}) and the
 * exit code is 1: work guarded by the lock must not go on once another holder may have it.
 */
@Command(
    name = "lock",
    mixinStandardHelpOptions = true,
    description = {
      "Acquires lock NAME and holds it until interrupted, or while COMMAND runs.",
      "COMMAND gets $" + LockCommand.TOKEN_ENV + " and $" + LockCommand.NAME_ENV + ".",
      "If the lock is lost, COMMAND is stopped and the exit code is 1; else it is COMMAND's."
    },
    customSynopsis = {
      "meridianctl lock [OPTIONS] NAME [-- COMMAND [ARG...]]",
      "meridianctl lock inspect [OPTIONS] NAME"
    },
    subcommands = {LockCommand.Inspect.class})
final class LockCommand implements Callable<Integer> {
  /** The fencing token COMMAND should pass to the storage it writes. */
  static final String TOKEN_ENV = "MERIDIAN_LOCK_TOKEN";

  /** The lock's name, for COMMAND. */
  static final String NAME_ENV = "MERIDIAN_LOCK_NAME";

  /** How long a COMMAND told to stop (SIGTERM) has before it is killed. */
  static final Duration STOP_GRACE = Duration.ofSeconds(3);

  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  // Optional for picocli so that `lock inspect NAME` parses; call() requires it.
  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "NAME",
      description = "The lock: a key path such as /team-a/jobs/report.")
  String name;

  @Parameters(
      index = "1..*",
      paramLabel = "COMMAND",
      description = "Run this while holding the lock (after --, so its options stay its own).")
  List<String> command = new ArrayList<>();

  @Option(
      names = "--ttl",
      paramLabel = "DURATION",
      converter = Durations.Ttl.class,
      description = "TTL of the lease the lock is held through (default: 10s).")
  Duration ttl = LockClient.DEFAULT_SESSION_TTL;

  @Option(
      names = "--wait",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "How long to wait behind other holders (default: 1m), then LOCK_TIMEOUT.")
  Duration wait = Duration.ofMinutes(1);

  @Override
  public Integer call() throws IOException {
    if (name == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "NAME: missing (expected: a lock name such as /team-a/jobs/report)");
    }
    // The lease's namespace is the lock's; the member checks the rest of the name.
    KeyPath.checkReadable(name);
    MeridianClient client = root.client();
    Session session = client.leases().session(KeyPath.namespaceOf(name), ttl);
    Holding holding = new Holding(session);
    Thread hook = new Thread(holding::end, "meridianctl-lock-release");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      LockHandle handle = client.locks().lock(session, name, wait);
      holding.handle = handle;
      LockAcquireResponse granted = handle.granted();
      root.output(spec.commandLine().getOut())
          .print(
              granted,
              new Output.Table("NAME", "FENCING_TOKEN", "LEASE")
                  .row(granted.getName(), granted.getFencingToken(), granted.getLease()));
      return command.isEmpty() ? hold(handle) : runHolding(handle, holding);
    } finally {
      holding.end();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // The hook is running or ran: it ended the holding too.
      }
    }
  }

  /** Holds the lock until it is lost; stopping the process releases it through the hook. */
  private int hold(LockHandle handle) {
    try {
      throw lossError(handle, handle.lost().get());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      // The finally of call() releases the lock.
      throw new IllegalStateException("interrupted: lock released", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  private int runHolding(LockHandle handle, Holding holding) throws IOException {
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.INHERIT);
    builder.environment().put(TOKEN_ENV, Long.toString(handle.fencingToken()));
    builder.environment().put(NAME_ENV, handle.name());
    Process child = builder.start();
    holding.child = child;
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    // Copied rather than inherited so that the writers meridianctl was given see COMMAND's output.
    Thread outPump = pump(child.getInputStream(), out, "meridianctl-lock-stdout");
    Thread errPump = pump(child.getErrorStream(), err, "meridianctl-lock-stderr");
    try {
      CompletableFuture.anyOf(child.onExit(), handle.lost()).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      // The finally of call() stops COMMAND and releases the lock.
      throw new IllegalStateException("interrupted: COMMAND stopped, lock released", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    if (handle.lost().isDone()) {
      err.println(
          "Error: "
              + Error.Code.LOCK_NOT_HELD
              + ": "
              + lossError(handle, handle.lost().join()).getMessage()
              + "; stopping COMMAND (pid "
              + child.pid()
              + ")");
      err.flush();
      stop(child);
      drain(outPump, errPump);
      return Meridianctl.FAILED;
    }
    drain(outPump, errPump);
    return child.exitValue();
  }

  private static MeridianException lossError(LockHandle handle, Session.Loss loss) {
    return MeridianException.of(
        Error.Code.LOCK_NOT_HELD,
        "lock %s: lost with its lease %d (%s)",
        handle.name(),
        loss.leaseId(),
        loss.reason());
  }

  /**
   * Stops {@code child} and its descendants: SIGTERM, then SIGKILL for whatever is still alive
   * after {@link #STOP_GRACE}. The descendants are listed first, as they leave the tree when their
   * parent dies.
   */
  static void stop(Process child) {
    List<ProcessHandle> tree = new ArrayList<>(child.descendants().toList());
    tree.add(child.toHandle());
    tree.forEach(ProcessHandle::destroy);
    if (!exited(tree)) {
      tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
      exited(tree);
    }
  }

  private static boolean exited(List<ProcessHandle> processes) {
    CompletableFuture<?>[] exits =
        processes.stream().map(ProcessHandle::onExit).toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(exits).get(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException | ExecutionException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static Thread pump(InputStream from, PrintWriter to, String name) {
    Thread t =
        new Thread(
            () -> {
              try (Reader r = new InputStreamReader(from, Charset.defaultCharset())) {
                char[] buffer = new char[8192];
                int n;
                while ((n = r.read(buffer)) >= 0) {
                  to.write(buffer, 0, n);
                  to.flush();
                }
              } catch (IOException e) {
                // COMMAND's end of the pipe is gone: nothing more to copy.
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  // A descendant that keeps the pipe open must not keep meridianctl waiting.
  private static void drain(Thread... pumps) {
    for (Thread p : pumps) {
      try {
        p.join(STOP_GRACE.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * What one {@code lock} run holds, ended once (on return, or by the shutdown hook on SIGINT or
   * SIGTERM): COMMAND is stopped first, as it is what the lock protects, then the lock is released
   * and the lease revoked.
   */
  private final class Holding {
    private final Session session;
    volatile LockHandle handle;
    volatile Process child;
    private boolean ended;

    Holding(Session session) {
      this.session = session;
    }

    synchronized void end() {
      if (ended) {
        return;
      }
      ended = true;
      Process c = child;
      if (c != null && c.isAlive()) {
        stop(c);
      }
      long bound = root.timeout.toMillis();
      LockHandle h = handle;
      CompletableFuture<Void> release =
          h == null || session.lost().isDone()
              ? CompletableFuture.completedFuture(null)
              : h.releaseAsync().exceptionally(t -> null);
      // Revoking the lease would release the lock too; the explicit release says why it ended.
      release
          .thenCompose(ignored -> session.closeAsync())
          .completeOnTimeout(null, bound, TimeUnit.MILLISECONDS)
          .join();
    }
  }

  @Command(
      name = "inspect",
      mixinStandardHelpOptions = true,
      description = "Lock NAME's holders (with their fencing tokens and leases) and its waiters.")
  static final class Inspect implements Callable<Integer> {
    @ParentCommand LockCommand lock;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "The lock, as /team-a/jobs/report.")
    String name;

    @Option(
        names = "--consistency",
        paramLabel = "LEVEL",
        description = "LINEARIZABLE (default), SERIALIZABLE or LOCAL.")
    String consistency = "LINEARIZABLE";

    @Override
    public Integer call() {
      LockInspectRequest request =
          LockInspectRequest.newBuilder()
              .setName(name)
              .setConsistency(KvCommand.consistency(spec, consistency))
              .build();
      LockInspectResponse inspected =
          Stubs.call(lock.root.client().stubs().lock()::inspect, request, true).join();
      Output.Table table =
          new Output.Table("ROLE", "LEASE", "MODE", "FENCING_TOKEN", "CREATE_REVISION");
      for (LockOwner h : inspected.getHoldersList()) {
        table.row("holder", h.getLease(), h.getMode(), h.getFencingToken(), h.getCreateRevision());
      }
      for (LockOwner w : inspected.getWaitersList()) {
        table.row("waiter", w.getLease(), w.getMode(), "-", w.getCreateRevision());
      }
      lock.root.output(spec.commandLine().getOut()).print(inspected, table);
      return 0;
    }
  }
}
