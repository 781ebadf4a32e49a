package io.meridian.router;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The routing table a router serves. A request reads it once ({@link #current()}) and routes with
 * that table alone; {@link #replace} swaps in a whole new one, so no request ever sees half of
 * each.
 *
 * <pre>{@code
 * ServedTable served = new ServedTable(RoutingTable.parse(Files.readString(path)));
 * RoutingTable table = served.current();
 * RoutingTable.Shard shard = table.shardOf(namespace);
 * }</pre>
 */
public final class ServedTable {
  private final AtomicReference<RoutingTable> current;

  public ServedTable(RoutingTable initial) {
    this.current = new AtomicReference<>(initial);
  }

  public RoutingTable current() {
    return current.get();
  }

  /**
   * Serves {@code next} from now on if its version is higher than the one served; otherwise fails
   * with {@code INVALID_ARGUMENT} and keeps the current table.
   */
  public RoutingTable replace(RoutingTable next) {
    while (true) {
      RoutingTable served = current.get();
      if (next.version() <= served.version()) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "routing table: version %d is not higher than the version served, %d",
            next.version(),
            served.version());
      }
      if (current.compareAndSet(served, next)) {
        return served;
      }
    }
  }
}
