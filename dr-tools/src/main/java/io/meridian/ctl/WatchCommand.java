package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.client.WatchClient;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl watch KEY}: every change to a key or prefix, one line per event, until
 * interrupted, as etcdctl's {@code watch}. It rides on {@link WatchClient}, which re-creates the
 * watch on another member from the revision after the last one delivered when its member fails, so
 * a member failure neither loses nor repeats an event. A start revision whose history is compacted
 * ends the command with {@code Error: COMPACTED: ...} (exit 1).
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description = "Prints every change to KEY (or under it with --prefix) until interrupted.")
final class WatchCommand implements Callable<Integer> {
  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "KEY")
  String key;

  @Option(names = "--prefix", description = "Every key that starts with KEY.")
  boolean prefix;

  @Option(
      names = "--rev",
      paramLabel = "REV",
      description = "From revision REV on, including it (default: changes from now).")
  long revision;

  @Option(
      names = "--prev-kv",
      description = "Include each key's previous version (in json and yaml output).")
  boolean prevKv;

  @Option(
      names = "--max-events",
      paramLabel = "N",
      description = "Exit after N events (default: run until interrupted).")
  long maxEvents;

  // Guarded by this: events printed.
  private long printed;

  @Override
  public Integer call() {
    if (revision < 0 || maxEvents < 0) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          (revision < 0 ? "--rev: " + revision : "--max-events: " + maxEvents)
              + " (expected: >= 0)");
    }
    Output out = root.output(spec.commandLine().getOut());
    CompletableFuture<Void> ended = new CompletableFuture<>();
    try (WatchClient.Watching ignored =
        root.client()
            .watches()
            .watch(
                WatchCreateRequest.newBuilder()
                    .setKey(key)
                    .setPrefix(prefix)
                    .setStartRevision(revision)
                    .setPrevKv(prevKv)
                    .build(),
                new WatchClient.Listener() {
                  @Override
                  public void onEvents(List<Event> events, ResponseHeader position) {
                    print(out, events, ended);
                  }

                  @Override
                  public void onError(MeridianException error) {
                    ended.completeExceptionally(error);
                  }
                })) {
      ended.join();
      return 0;
    } catch (CompletionException e) {
      throw (MeridianException) e.getCause();
    }
  }

  private synchronized void print(Output out, List<Event> events, CompletableFuture<Void> ended) {
    for (Event e : events) {
      if (ended.isDone()) {
        return;
      }
      String line =
          e.getType().name() + "  " + e.getKv().getKey() + "  " + e.getKv().getModRevision();
      if (e.getType() == Event.EventType.PUT) {
        line += "  " + Output.text(e.getKv().getValue());
      }
      out.printEach(e, line);
      if (maxEvents > 0 && ++printed >= maxEvents) {
        ended.complete(null);
      }
    }
  }
}
