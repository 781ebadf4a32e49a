package io.meridian.testing;

import io.meridian.kafka.KafkaBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real single-node Kafka broker for one test class: started before its first test, in a new
 * temporary directory, and stopped (its directory deleted) after its last. Tests of one class share
 * it; each uses its own topics.
 *
 * <pre>{@code
 * @RegisterExtension static final LocalKafka kafka = new LocalKafka();
 *
 * props.put("bootstrap.servers", kafka.bootstrapServers());
 * kafka.broker().kill(); // a crash; broker().start() brings it back with its data
 * }</pre>
 */
public final class LocalKafka implements BeforeAllCallback, AfterAllCallback {
  private Path dir;
  private KafkaBroker broker;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("meridian-kafka-");
    broker = KafkaBroker.start(dir);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (broker != null) {
      broker.close();
      broker = null;
    }
    deleteQuietly(dir);
  }

  /** host:port for {@code bootstrap.servers}. */
  public String bootstrapServers() {
    return broker().bootstrapServers();
  }

  /** The broker, to stop, kill or start again. */
  public KafkaBroker broker() {
    if (broker == null) {
      throw new IllegalStateException("the broker runs from beforeAll to afterAll of its class");
    }
    return broker;
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
