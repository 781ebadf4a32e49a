package io.meridian.ctl;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.DeleteRangeRequest;
import io.meridian.api.v1.DeleteRangeResponse;
import io.meridian.api.v1.KeyValue;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code meridianctl kv put|get|del}: keys and values, named as etcdctl names them. */
@Command(
    name = "kv",
    mixinStandardHelpOptions = true,
    description = "Keys and values (etcd v3 semantics: revisions, versions, leases).",
    subcommands = {KvCommand.Put.class, KvCommand.Get.class, KvCommand.Del.class})
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
      kv.root
          .output(spec.commandLine().getOut())
          .print(put, new Output.Table("KEY", "REVISION").row(key, put.getHeader().getRevision()));
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
      kv.root.output(spec.commandLine().getOut()).print(range, table);
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
      kv.root
          .output(spec.commandLine().getOut())
          .print(
              deleted,
              new Output.Table("DELETED", "REVISION")
                  .row(deleted.getDeleted(), deleted.getHeader().getRevision()));
      return 0;
    }
  }
}
