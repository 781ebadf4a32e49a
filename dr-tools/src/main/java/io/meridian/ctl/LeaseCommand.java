package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LeaseListRequest;
import io.meridian.api.v1.LeaseListResponse;
import io.meridian.api.v1.LeaseRevokeResponse;
import io.meridian.api.v1.LeaseStatus;
import io.meridian.api.v1.LeaseTimeToLiveResponse;
import io.meridian.client.Stubs;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl lease grant|keep-alive|revoke|ttl|list}: leases, named as etcdctl names them.
 * Lease IDs are printed and read in decimal; TTLs are whole seconds.
 */
@Command(
    name = "lease",
    mixinStandardHelpOptions = true,
    description = "Leases: time-bounded sessions that keys, locks and registrations attach to.",
    subcommands = {
      LeaseCommand.Grant.class,
      LeaseCommand.KeepAlive.class,
      LeaseCommand.Revoke.class,
      LeaseCommand.Ttl.class,
      LeaseCommand.List.class
    })
final class LeaseCommand {
  // Renewals never come closer together than this, whatever the TTL.
  private static final Duration MIN_RENEW_INTERVAL = Duration.ofMillis(500);

  @ParentCommand Meridianctl root;

  /** {@code seconds} as people read a TTL. */
  static String seconds(long seconds) {
    return seconds + "s";
  }

  @Command(
      name = "grant",
      mixinStandardHelpOptions = true,
      description = "Grants a lease of TTL in NAMESPACE; prints its ID and granted TTL.")
  static final class Grant implements Callable<Integer> {
    @ParentCommand LeaseCommand lease;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAMESPACE", description = "As in /<namespace>/...")
    String namespace;

    @Parameters(
        index = "1",
        paramLabel = "TTL",
        converter = Durations.Ttl.class,
        description = "Time to live: 10s, 1m, or plain seconds (10).")
    Duration ttl;

    @Option(
        names = {"-q", "--quiet"},
        description = "Print only the ID, for scripts: LEASE=$(meridianctl lease grant ns 30s -q).")
    boolean quiet;

    @Override
    public Integer call() {
      LeaseGrantResponse granted = lease.root.client().leases().grant(namespace, ttl);
      if (quiet) {
        spec.commandLine().getOut().println(granted.getId());
        spec.commandLine().getOut().flush();
        return 0;
      }
      lease
          .root
          .output(spec.commandLine().getOut())
          .print(
              granted,
              new Output.Table("ID", "TTL").row(granted.getId(), seconds(granted.getTtl())));
      return 0;
    }
  }

  @Command(
      name = "keep-alive",
      mixinStandardHelpOptions = true,
      description = {
        "Keeps lease ID alive, printing a line per renewal, until interrupted (Ctrl-C).",
        "Exits 1 with the server's error once the lease is gone."
      })
  static final class KeepAlive implements Callable<Integer> {
    @ParentCommand LeaseCommand lease;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The lease, in decimal.")
    long id;

    @Option(names = "--once", description = "Renew once and exit.")
    boolean once;

    @Override
    public Integer call() throws InterruptedException {
      Output output = lease.root.output(spec.commandLine().getOut());
      while (true) {
        LeaseKeepAliveResponse renewed = lease.root.client().leases().renewAsync(id).join();
        if (renewed.getTtl() <= 0) {
          // How a leader reports a lease at its end (the client's sessions read it so too).
          throw MeridianException.of(Error.Code.LEASE_NOT_FOUND, "lease %d: expired", id);
        }
        output.printEach(renewed, "lease " + id + " kept alive, TTL " + seconds(renewed.getTtl()));
        if (once) {
          return 0;
        }
        // A third of the TTL, as sessions renew: two renewals may fail before the lease ends.
        Duration interval = Duration.ofSeconds(renewed.getTtl()).dividedBy(3);
        Thread.sleep(Math.max(interval.toMillis(), MIN_RENEW_INTERVAL.toMillis()));
      }
    }
  }

  @Command(
      name = "revoke",
      mixinStandardHelpOptions = true,
      description = "Ends lease ID now: its keys are deleted and its locks released.")
  static final class Revoke implements Callable<Integer> {
    @ParentCommand LeaseCommand lease;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The lease, in decimal.")
    long id;

    @Override
    public Integer call() {
      LeaseRevokeResponse revoked = lease.root.client().leases().revoke(id);
      lease
          .root
          .output(spec.commandLine().getOut())
          .print(
              revoked,
              new Output.Table("REVOKED", "REVISION").row(id, revoked.getHeader().getRevision()));
      return 0;
    }
  }

  @Command(
      name = "ttl",
      mixinStandardHelpOptions = true,
      description = "Lease ID's remaining and granted TTL, as its shard's leader sees them.")
  static final class Ttl implements Callable<Integer> {
    @ParentCommand LeaseCommand lease;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The lease, in decimal.")
    long id;

    @Option(names = "--keys", description = "Also the keys attached to the lease.")
    boolean keys;

    @Override
    public Integer call() {
      LeaseTimeToLiveResponse ttl = lease.root.client().leases().timeToLiveAsync(id, keys).join();
      Output.Table table =
          keys
              ? new Output.Table("ID", "TTL", "GRANTED_TTL", "NAMESPACE", "KEYS")
              : new Output.Table("ID", "TTL", "GRANTED_TTL", "NAMESPACE");
      if (keys) {
        table.row(
            ttl.getId(),
            seconds(ttl.getTtl()),
            seconds(ttl.getGrantedTtl()),
            ttl.getNamespace(),
            String.join(",", ttl.getKeysList()));
      } else {
        table.row(
            ttl.getId(), seconds(ttl.getTtl()), seconds(ttl.getGrantedTtl()), ttl.getNamespace());
      }
      lease.root.output(spec.commandLine().getOut()).print(ttl, table);
      return 0;
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "The leases of NAMESPACE, or of every namespace.")
  static final class List implements Callable<Integer> {
    @ParentCommand LeaseCommand lease;
    @Spec CommandSpec spec;

    @Parameters(
        index = "0",
        arity = "0..1",
        paramLabel = "NAMESPACE",
        description = "Only this namespace's leases (default: all).")
    String namespace = "";

    @Option(
        names = "--consistency",
        paramLabel = "LEVEL",
        description = "LINEARIZABLE (default), SERIALIZABLE or LOCAL.")
    String consistency = "LINEARIZABLE";

    @Override
    public Integer call() {
      LeaseListRequest request =
          LeaseListRequest.newBuilder()
              .setNamespace(namespace)
              .setConsistency(KvCommand.consistency(spec, consistency))
              .build();
      LeaseListResponse list =
          Stubs.call(lease.root.client().stubs().lease()::list, request, true).join();
      Output.Table table = new Output.Table("ID", "NAMESPACE", "GRANTED_TTL");
      for (LeaseStatus l : list.getLeasesList()) {
        table.row(l.getId(), l.getNamespace(), seconds(l.getGrantedTtl()));
      }
      lease.root.output(spec.commandLine().getOut()).print(list, table);
      return 0;
    }
  }
}
