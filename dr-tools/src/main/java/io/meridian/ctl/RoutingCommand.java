package io.meridian.ctl;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.Slot;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.GetTableRequest;
import io.meridian.api.v1.ReplaceTableRequest;
import io.meridian.api.v1.RouterAdminGrpc;
import io.meridian.api.v1.RoutingTableResponse;
import io.meridian.client.Stubs;
import io.meridian.router.RoutingTable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl routing show|diff|apply}: the routing table every router among the endpoints
 * serves. A table only ever moves to a higher version; routers refuse anything else.
 */
@Command(
    name = "routing",
    mixinStandardHelpOptions = true,
    description = "The routing table of the routers named by --endpoints: show, diff, apply.",
    subcommands = {
      RoutingCommand.Show.class,
      RoutingCommand.Diff.class,
      RoutingCommand.Apply.class
    })
final class RoutingCommand {
  @ParentCommand Meridianctl root;

  /** What one router serves, or why it did not answer ({@code table} null then). */
  record Served(String url, RoutingTableResponse table, String problem) {}

  /** The table of every router among the endpoints; nodes (no RouterAdmin) are left out. */
  List<Served> served(CommandSpec spec) {
    List<Served> out = served(root.endpoints(), root.timeout(), root.factory());
    if (out.isEmpty()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--endpoints: no router among " + root.endpoints());
    }
    return out;
  }

  /** What each router among {@code urls} serves; nodes (no RouterAdmin) are left out. */
  static List<Served> served(List<String> urls, Duration timeout, ClientFactory factory) {
    List<Served> out = new ArrayList<>();
    for (String url : urls) {
      try {
        out.add(
            new Served(
                url,
                admin(url, timeout, factory).getTable(GetTableRequest.getDefaultInstance()),
                null));
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
          out.add(new Served(url, null, failure(e)));
        }
      }
    }
    return out;
  }

  private static RouterAdminGrpc.RouterAdminBlockingStub admin(
      String url, Duration timeout, ClientFactory factory) {
    return GrpcClients.builder(url)
        .factory(factory)
        .responseTimeout(timeout)
        .build(RouterAdminGrpc.RouterAdminBlockingStub.class);
  }

  private static String failure(StatusRuntimeException e) {
    MeridianException m = Stubs.failure(e);
    return m.code() + ": " + m.getMessage();
  }

  /** The table in {@code file}, checked as a router checks it. */
  static RoutingTable read(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    try {
      return RoutingTable.parse(text);
    } catch (MeridianException e) {
      throw MeridianException.of(e.code(), "%s: %s", file, e.getMessage());
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = {
        "Each router's region and table version.",
        "Exits 3 when a router does not answer or the routers serve different versions."
      })
  static final class Show implements Callable<Integer> {
    @ParentCommand RoutingCommand routing;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      List<Served> served = routing.served(spec);
      Output.Table table = new Output.Table("ROUTER", "REGION", "VERSION", "PROBLEM");
      TreeSet<Long> versions = new TreeSet<>();
      boolean healthy = true;
      for (Served s : served) {
        if (s.table() == null) {
          healthy = false;
          table.row(s.url(), "-", "-", s.problem());
        } else {
          versions.add(s.table().getVersion());
          table.row(s.url(), s.table().getRegion(), s.table().getVersion(), "-");
        }
      }
      if (versions.size() > 1) {
        healthy = false;
      }
      var json = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
      json.put("consistent", healthy);
      var routers = json.putArray("routers");
      for (Served s : served) {
        var o = routers.addObject();
        o.put("url", s.url());
        o.put("region", s.table() == null ? "" : s.table().getRegion());
        o.put("version", s.table() == null ? 0 : s.table().getVersion());
        o.put("problem", s.problem() == null ? "" : s.problem());
      }
      Output.Table verdict =
          new Output.Table(
              healthy
                  ? "every router serves version " + versions.first()
                  : versions.size() > 1
                      ? "routers serve different versions " + versions
                      : "a router did not answer");
      routing.root.output(spec.commandLine().getOut()).print(json, table, verdict);
      return healthy ? 0 : StatusCommand.UNHEALTHY;
    }
  }

  @Command(
      name = "diff",
      mixinStandardHelpOptions = true,
      description = "What FILE would change in the table each router serves.")
  static final class Diff implements Callable<Integer> {
    @ParentCommand RoutingCommand routing;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A routing table (YAML).")
    Path file;

    @Override
    public Integer call() throws IOException {
      RoutingTable next = read(file);
      var out = spec.commandLine().getOut();
      for (Served s : routing.served(spec)) {
        if (s.table() == null) {
          out.println(s.url() + ": " + s.problem());
          continue;
        }
        List<String> changes = changes(RoutingTable.parse(s.table().getTable()), next);
        out.println(
            s.url()
                + " ("
                + s.table().getRegion()
                + ", version "
                + s.table().getVersion()
                + "): "
                + (changes.isEmpty() ? "no change" : changes.size() + " changes"));
        changes.forEach(c -> out.println("  " + c));
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "apply",
      mixinStandardHelpOptions = true,
      description = {
        "Checks FILE and serves it on every router among the endpoints.",
        "Refused before any router takes it unless its version is higher than every router's."
      })
  static final class Apply implements Callable<Integer> {
    @ParentCommand RoutingCommand routing;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A routing table (YAML).")
    Path file;

    @Override
    public Integer call() throws IOException {
      RoutingTable next = read(file);
      List<Served> served = routing.served(spec);
      for (Served s : served) {
        if (s.table() != null && s.table().getVersion() >= next.version()) {
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "%s: version %d is not above version %d, which %s serves",
              file,
              next.version(),
              s.table().getVersion(),
              s.url());
        }
      }
      Output.Table table = new Output.Table("ROUTER", "REGION", "RESULT");
      int failed = 0;
      for (Served s : served) {
        try {
          RoutingTableResponse r =
              admin(s.url(), routing.root.timeout(), routing.root.factory())
                  .replaceTable(ReplaceTableRequest.newBuilder().setTable(next.text()).build());
          table.row(s.url(), r.getRegion(), "serves version " + r.getVersion());
        } catch (StatusRuntimeException e) {
          failed++;
          table.row(s.url(), s.table() == null ? "-" : s.table().getRegion(), failure(e));
        }
      }
      table.print(spec.commandLine().getOut());
      spec.commandLine().getOut().flush();
      if (failed > 0) {
        throw MeridianException.of(
            Error.Code.UNAVAILABLE,
            "%d of %d routers did not take version %d; apply again once they answer",
            failed,
            served.size(),
            next.version());
      }
      return 0;
    }
  }

  /** What moving from {@code from} to {@code to} changes, one line each, in table order. */
  static List<String> changes(RoutingTable from, RoutingTable to) {
    List<String> out = new ArrayList<>();
    if (from.version() != to.version()) {
      out.add("version " + from.version() + " -> " + to.version());
    }
    // Slot ranges whose shard changes, merged into runs.
    int start = -1;
    for (int slot = 0; slot <= Slot.COUNT; slot++) {
      boolean moved = slot < Slot.COUNT && from.shardOfSlot(slot) != to.shardOfSlot(slot);
      boolean sameRun =
          moved
              && start >= 0
              && from.shardOfSlot(slot) == from.shardOfSlot(start)
              && to.shardOfSlot(slot) == to.shardOfSlot(start);
      if (start >= 0 && !sameRun) {
        out.add(
            "slots "
                + start
                + "-"
                + (slot - 1)
                + ": shard "
                + from.shardOfSlot(start)
                + " -> "
                + to.shardOfSlot(start));
        start = -1;
      }
      if (moved && start < 0) {
        start = slot;
      }
    }
    TreeSet<Integer> shards = new TreeSet<>(from.shards().keySet());
    shards.addAll(to.shards().keySet());
    for (int id : shards) {
      RoutingTable.Shard a = from.shard(id);
      RoutingTable.Shard b = to.shard(id);
      if (a == null || b == null) {
        out.add("shard " + id + (a == null ? " added" : " removed"));
        continue;
      }
      TreeSet<String> regions = new TreeSet<>();
      a.regions().forEach(r -> regions.add(r.region()));
      b.regions().forEach(r -> regions.add(r.region()));
      for (String region : regions) {
        var ra = a.region(region).orElse(null);
        var rb = b.region(region).orElse(null);
        String where = "shard " + id + " " + region;
        if (ra == null || rb == null) {
          out.add(where + (ra == null ? " added" : " removed"));
          continue;
        }
        if (ra.role() != rb.role()) {
          out.add(where + ": role " + ra.role() + " -> " + rb.role());
        }
        if (ra.epoch() != rb.epoch()) {
          out.add(where + ": epoch " + ra.epoch() + " -> " + rb.epoch());
        }
        if (!ra.endpoints().equals(rb.endpoints())) {
          out.add(where + ": endpoints " + ra.endpoints() + " -> " + rb.endpoints());
        }
      }
    }
    TreeSet<String> pinned = new TreeSet<>(from.pins().keySet());
    pinned.addAll(to.pins().keySet());
    for (String ns : pinned) {
      Integer a = from.pins().get(ns);
      Integer b = to.pins().get(ns);
      if (!Objects.equals(a, b)) {
        out.add("namespace " + ns + " pinned: " + pin(a) + " -> " + pin(b));
      }
    }
    return out;
  }

  private static String pin(Integer shard) {
    return shard == null ? "none" : "shard " + shard;
  }
}
