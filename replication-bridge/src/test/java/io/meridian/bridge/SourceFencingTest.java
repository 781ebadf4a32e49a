package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;

/** Which failures end a source for good: every way Kafka says a newer copy took over. */
class SourceFencingTest {
  @Test
  void everyWayKafkaSaysFencedIsFencingWrappedOrNot() {
    assertThat(Source.fencing(new ProducerFencedException("newer epoch"))).isNotNull();
    assertThat(Source.fencing(new InvalidProducerEpochException("old epoch"))).isNotNull();
    // Kafka 4: a newer copy's initTransactions aborted our open transaction.
    Throwable aborted = new InvalidTxnStateException("transaction aborted by the coordinator");
    assertThat(Source.fencing(new KafkaException("send failed", aborted))).isSameAs(aborted);
  }

  @Test
  void outagesAreRetried() {
    assertThat(Source.fencing(new TimeoutException("no metadata"))).isNull();
    assertThat(Source.fencing(new KafkaException("send failed", new TimeoutException("x"))))
        .isNull();
    assertThat(Source.fencing(MeridianException.of(Error.Code.UNAVAILABLE, "no leader"))).isNull();
  }
}
