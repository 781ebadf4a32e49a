package io.meridian.ctl;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Instance;
import io.meridian.api.v1.InstanceEvent;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.WatchServiceRequest;
import io.meridian.api.v1.WatchServiceResponse;
import io.meridian.client.Stubs;
import java.time.Duration;
import java.util.Set;
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
 * {@code meridianctl registry watch SERVICE}: streams the instance set of a service, then each
 * change, one line per event. The stream is resumed from the revision after the last one it
 * delivered when its member goes away, so no change is missed or repeated.
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description =
        "Prints SERVICE's instances (UP), then every change (UP, UPDATED, DOWN) until interrupted.")
final class RegistryWatchCommand implements Callable<Integer> {
  /** Errors a new stream would only repeat. */
  private static final Set<Error.Code> FINAL =
      Set.of(
          Error.Code.COMPACTED,
          Error.Code.HISTORY_DIVERGED,
          Error.Code.INVALID_ARGUMENT,
          Error.Code.RESERVED_KEY,
          Error.Code.UNAUTHENTICATED,
          Error.Code.PERMISSION_DENIED,
          Error.Code.FUTURE_REVISION);

  /** Pause before resuming a stream that failed. */
  private static final Duration RESUME_AFTER = Duration.ofMillis(500);

  @ParentCommand RegistryCommand registry;
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "SERVICE")
  String service;

  @Option(
      names = "--rev",
      paramLabel = "REV",
      description = "Changes from revision REV on, without the current instance set first.")
  long revision;

  @Option(
      names = "--max-events",
      paramLabel = "N",
      description = "Exit after N events (default: run until interrupted).")
  long maxEvents;

  // Guarded by this: the revision to resume from, the events printed.
  private long next;
  private long printed;

  @Override
  public Integer call() throws InterruptedException {
    if (revision < 0 || maxEvents < 0) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          (revision < 0 ? "--rev: " + revision : "--max-events: " + maxEvents)
              + " (expected: >= 0)");
    }
    WatchServiceRequest request =
        WatchServiceRequest.newBuilder()
            .setNamespace(registry.namespace(spec))
            .setService(service)
            .build();
    // The client's stream stub: no retries (this loop resumes) and no response timeout.
    RegistryGrpc.RegistryStub stub = registry.root.client().stubs().registryWatch();
    Output out = registry.output(spec);
    next = revision;
    while (true) {
      long from;
      synchronized (this) {
        from = next;
      }
      CompletableFuture<Void> ended = new CompletableFuture<>();
      stub.watchService(request.toBuilder().setStartRevision(from).build(), stream(out, ended));
      try {
        ended.join();
        return 0;
      } catch (CompletionException e) {
        MeridianException failure = Stubs.failure(e.getCause());
        if (FINAL.contains(failure.code())) {
          throw failure;
        }
        Thread.sleep(RESUME_AFTER.toMillis());
      }
    }
  }

  private ClientResponseObserver<WatchServiceRequest, WatchServiceResponse> stream(
      Output out, CompletableFuture<Void> ended) {
    return new ClientResponseObserver<>() {
      private ClientCallStreamObserver<WatchServiceRequest> call;

      @Override
      public void beforeStart(ClientCallStreamObserver<WatchServiceRequest> call) {
        this.call = call;
      }

      @Override
      public void onNext(WatchServiceResponse r) {
        synchronized (RegistryWatchCommand.this) {
          if (ended.isDone()) {
            return;
          }
          for (InstanceEvent e : r.getEventsList()) {
            Instance i = e.getInstance();
            out.printEach(
                e,
                String.join(
                    "  ",
                    e.getType().name(),
                    i.getId(),
                    RegistryCommand.address(i),
                    i.getHealth().name()));
            if (maxEvents > 0 && ++printed >= maxEvents) {
              ended.complete(null);
              call.cancel("enough events", null);
              return;
            }
          }
          next = Math.max(next, r.getHeader().getRevision() + 1);
        }
      }

      @Override
      public void onError(Throwable t) {
        ended.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        ended.completeExceptionally(
            MeridianException.of(Error.Code.UNAVAILABLE, "the member ended the stream"));
      }
    };
  }
}
