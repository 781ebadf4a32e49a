package io.meridian.cluster.watch;

import com.google.protobuf.Message;
import com.linecorp.armeria.common.HttpResponseWriter;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.WatchResponse;
import io.meridian.serving.JsonLines;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Sends watch responses as JSON lines on an HTTP body, converted to the stream's message type (a
 * conversion that yields null sends nothing, one that throws ends the stream). A write waits until
 * the client consumed the previous one, so a slow reader fills the {@link WatchStream}'s queue
 * rather than the server's memory. A failure is sent as a last line, since the status is gone.
 */
public final class HttpWatchSink implements WatchSink {
  private final HttpResponseWriter writer;
  private final Executor executor;
  private final Function<WatchResponse, ? extends Message> convert;
  private final Function<MeridianException, ? extends Message> failure;
  private Runnable drain = () -> {};
  private boolean writing;

  /**
   * @param convert the line for a watch response, or null for none
   * @param failure the last line of a stream that failed with an error
   */
  public HttpWatchSink(
      HttpResponseWriter writer,
      Executor executor,
      Function<WatchResponse, ? extends Message> convert,
      Function<MeridianException, ? extends Message> failure) {
    this.writer = writer;
    this.executor = executor;
    this.convert = convert;
    this.failure = failure;
  }

  @Override
  public Executor executor() {
    return executor;
  }

  @Override
  public boolean isReady() {
    return writer.isOpen() && !writing;
  }

  @Override
  public void send(WatchResponse response) {
    Message line;
    try {
      line = convert.apply(response);
    } catch (MeridianException e) {
      fail(e);
      return;
    }
    if (line == null || !writer.tryWrite(JsonLines.line(line))) {
      return;
    }
    writing = true;
    writer
        .whenConsumed()
        .thenRun(
            () ->
                executor.execute(
                    () -> {
                      writing = false;
                      drain.run();
                    }));
  }

  @Override
  public void onReady(Runnable drain) {
    this.drain = drain;
  }

  @Override
  public void fail(MeridianException error) {
    writer.tryWrite(JsonLines.line(failure.apply(error)));
    writer.close();
  }
}
