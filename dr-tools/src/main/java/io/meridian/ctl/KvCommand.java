package io.meridian.ctl;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.CompactionRequest;
import io.meridian.api.v1.CompactionResponse;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.ResponseOp;
import io.meridian.api.v1.StatusRequest;
import io.meridian.api.v1.StatusResponse;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.client.Stubs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code meridianctl kv put|get|del|txn|compact}: keys and values, named as etcdctl names them. */
@Command(
    name = "kv",
    mixinStandardHelpOptions = true,
    description = "Keys and values (etcd v3 semantics: revisions, versions, leases).",
    subcommands = {
      KvCommand.Put.class,
      KvCommand.Get.class,
      KvCommand.Del.class,
      KvCommand.Txn.class,
      KvCommand.Compact.class
    })
final class KvCommand {
  @ParentCommand Meridianctl root;

  /** The consistency levels a read may ask for, as the API names them. */
  static Consistency consistency(CommandSpec spec, String name) {
    for (Consistency c : Consistency.values()) {
      if (c != Consistency.UNRECOGNIZED
          && c != Consistency.CONSISTENCY_UNSPECIFIED
          && c.name().equalsIgnoreCase(name)) {
        return c;
      }
    }
    throw new CommandLine.ParameterException(
        spec.commandLine(),
        "--consistency: " + name + " (expected: LINEARIZABLE, SERIALIZABLE, LOCAL or CACHED)");
  }

  static Output.Table putTable(String key, PutResponse put) {
    return new Output.Table("KEY", "REVISION").row(key, put.getHeader().getRevision());
  }

  static Output.Table rangeTable(RangeResponse range, boolean keysOnly) {
    Output.Table table =
        keysOnly
            ? new Output.Table("KEY")
            : new Output.Table("KEY", "VALUE", "MOD_REVISION", "LEASE");
    for (KeyValue k : range.getKvsList()) {
      if (keysOnly) {
        table.row(k.getKey());
      } else {
        table.row(k.getKey(), Output.text(k.getValue()), k.getModRevision(), k.getLease());
      }
    }
    return table;
  }

  static Output.Table deleteTable(DeleteRangeResponse deleted) {
    return new Output.Table("DELETED", "REVISION")
        .row(deleted.getDeleted(), deleted.getHeader().getRevision());
  }

  @Command(
      name = "put",
      mixinStandardHelpOptions = true,
      description = "Writes KEY with VALUE (text), or with the bytes of --file.")
  static final class Put implements Callable<Integer> {
    @ParentCommand KvCommand kv;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "KEY", description = "/<namespace>/<path>")
    String key;

    @Parameters(
        index = "1",
        arity = "0..1",
        paramLabel = "VALUE",
        description = "The value, as text.")
    String value;

    @Option(names = "--file", paramLabel = "FILE", description = "Read the value from FILE.")
    Path file;

    @Option(names = "--lease", paramLabel = "ID", description = "Bind the key to lease ID.")
    long lease;

    @Override
    public Integer call() throws IOException {
      if ((value == null) == (file == null)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "VALUE or --file: give exactly one");
      }
      ByteString bytes =
          file != null
              ? ByteString.copyFrom(Files.readAllBytes(file))
              : ByteString.copyFromUtf8(value);
      PutResponse put =
          kv.root
              .client()
              .kv()
              .put(PutRequest.newBuilder().setKey(key).setValue(bytes).setLease(lease).build());
      kv.root.output(spec.commandLine().getOut()).print(put, putTable(key, put));
      return 0;
    }
  }

  @Command(
      name = "get",
      mixinStandardHelpOptions = true,
      description = "Reads KEY, or every key under it with --prefix.")
  static final class Get implements Callable<Integer> {
    @ParentCommand KvCommand kv;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--prefix", description = "Every key that starts with KEY.")
    boolean prefix;

    @Option(names = "--rev", paramLabel = "REV", description = "As of revision REV (0: now).")
    long revision;

    @Option(names = "--keys-only", description = "Keys without their values.")
    boolean keysOnly;

    @Option(names = "--limit", paramLabel = "N", description = "At most N keys (0: no limit).")
    long limit;

    @Option(
        names = "--consistency",
        paramLabel = "LEVEL",
        description = "LINEARIZABLE (default), SERIALIZABLE, LOCAL or CACHED.")
    String consistency = "LINEARIZABLE";

    @Override
    public Integer call() {
      RangeResponse range =
          kv.root
              .client()
              .kv()
              .range(
                  RangeRequest.newBuilder()
                      .setKey(key)
                      .setPrefix(prefix)
                      .setRevision(revision)
                      .setKeysOnly(keysOnly)
                      .setLimit(limit)
                      .setConsistency(KvCommand.consistency(spec, consistency))
                      .build());
      kv.root.output(spec.commandLine().getOut()).print(range, rangeTable(range, keysOnly));
      return 0;
    }
  }

  @Command(
      name = "del",
      mixinStandardHelpOptions = true,
      description = "Deletes KEY, or every key under it with --prefix.")
  static final class Del implements Callable<Integer> {
    @ParentCommand KvCommand kv;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "KEY")
    String key;

    @Option(names = "--prefix", description = "Every key that starts with KEY.")
    boolean prefix;

    @Override
    public Integer call() {
      DeleteRangeResponse deleted =
          kv.root
              .client()
              .kv()
              .delete(DeleteRangeRequest.newBuilder().setKey(key).setPrefix(prefix).build());
      kv.root.output(spec.commandLine().getOut()).print(deleted, deleteTable(deleted));
      return 0;
    }
  }

  /**
   * A transaction in etcdctl's {@code txn} syntax (see {@link TxnScript}), from standard input or
   * {@code --file}; prints SUCCEEDED or FAILED, then the result of each op that ran.
   */
  @Command(
      name = "txn",
      mixinStandardHelpOptions = true,
      description = {
        "Runs a transaction read from stdin (or --file): compares, a blank line, the ops if they",
        "all hold, a blank line, the ops otherwise. Compares: version|create|mod|value|lease|lock",
        "(\"KEY\") =|!=|>|< \"VALUE\"; ops: put KEY VALUE, get KEY [--prefix], del KEY [--prefix]."
      })
  static final class Txn implements Callable<Integer> {
    @ParentCommand KvCommand kv;
    @Spec CommandSpec spec;

    @Option(names = "--file", paramLabel = "FILE", description = "Read the transaction from FILE.")
    Path file;

    @Option(
        names = {"-i", "--interactive"},
        description = "Prompt for each section (on stderr).")
    boolean interactive;

    @Override
    public Integer call() throws IOException {
      TxnScript script = new TxnScript();
      try (BufferedReader in =
          file != null
              ? Files.newBufferedReader(file, StandardCharsets.UTF_8)
              : new BufferedReader(new InputStreamReader(kv.root.in(), StandardCharsets.UTF_8))) {
        TxnScript.Section prompted = null;
        while (true) {
          if (interactive && prompted != script.section()) {
            prompted = script.section();
            spec.commandLine().getErr().println(PROMPTS.get(prompted));
            spec.commandLine().getErr().flush();
          }
          String line = in.readLine();
          if (line == null || !script.add(line)) {
            break;
          }
        }
      } catch (TxnScript.SyntaxError e) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), (file != null ? file + ": " : "txn: ") + e.getMessage());
      }
      TxnRequest request = script.request();
      TxnResponse txn = kv.root.client().kv().txn(request);
      Output out = kv.root.output(spec.commandLine().getOut());
      if (out.format() != Output.Format.table) {
        out.print(txn, null);
        return 0;
      }
      PrintWriter w = spec.commandLine().getOut();
      w.println(txn.getSucceeded() ? "SUCCEEDED" : "FAILED");
      List<RequestOp> ran =
          txn.getSucceeded() ? request.getSuccessList() : request.getFailureList();
      for (int i = 0; i < txn.getResponsesCount(); i++) {
        ResponseOp r = txn.getResponses(i);
        w.println();
        switch (r.getResponseCase()) {
          case RESPONSE_PUT ->
              putTable(ran.get(i).getRequestPut().getKey(), r.getResponsePut()).print(w);
          case RESPONSE_RANGE ->
              rangeTable(r.getResponseRange(), ran.get(i).getRequestRange().getKeysOnly()).print(w);
          case RESPONSE_DELETE_RANGE -> deleteTable(r.getResponseDeleteRange()).print(w);
          default -> w.println(r.getResponseCase());
        }
      }
      w.flush();
      return 0;
    }

    private static final Map<TxnScript.Section, String> PROMPTS =
        Map.of(
            TxnScript.Section.COMPARES, "compares (end with a blank line):",
            TxnScript.Section.SUCCESS, "success requests (get, put, del; end with a blank line):",
            TxnScript.Section.FAILURE, "failure requests (get, put, del; end with a blank line):");
  }

  /**
   * Compacts one shard's history. Compaction carries no key, so the shard is named in the {@code
   * meridian-shard} header; without {@code --shard} it is allowed only when the endpoints host a
   * single shard.
   */
  @Command(
      name = "compact",
      mixinStandardHelpOptions = true,
      description = "Drops shard --shard's versions superseded at or before revision REV.")
  static final class Compact implements Callable<Integer> {
    @ParentCommand KvCommand kv;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "REV")
    long revision;

    @Override
    public Integer call() {
      if (revision <= 0) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "REV: " + revision + " (expected: a revision > 0)");
      }
      // Compaction is per shard: the global --shard names it (the meridian-shard header).
      Stubs stubs = kv.root.client().stubs();
      if (kv.root.shard() == null) {
        StatusResponse status =
            Stubs.call(stubs.cluster()::status, StatusRequest.getDefaultInstance(), true).join();
        if (status.getShardsCount() > 1) {
          throw new CommandLine.ParameterException(
              spec.commandLine(),
              "--shard: not given, and the endpoints host shards "
                  + status.getShardsList().stream().map(s -> s.getHeader().getShard()).toList()
                  + " (expected: --shard S)");
        }
      }
      CompletableFuture<CompactionResponse> call =
          Stubs.call(
              stubs.kv()::compact,
              CompactionRequest.newBuilder().setRevision(revision).build(),
              true);
      CompactionResponse compacted = call.join();
      kv.root
          .output(spec.commandLine().getOut())
          .print(
              compacted,
              new Output.Table("SHARD", "COMPACTED_AT", "REVISION")
                  .row(
                      compacted.getHeader().getShard(),
                      revision,
                      compacted.getHeader().getRevision()));
      return 0;
    }
  }
}
