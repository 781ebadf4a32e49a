package io.meridian.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Role;
import io.meridian.bridge.Arrangement.Decision;
import io.meridian.bridge.Arrangement.Part;
import io.meridian.bridge.Arrangement.Plan;
import io.meridian.bridge.Arrangement.RegionView;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The arrangement's plan: which region gets the source, which get sinks, and why others idle. */
class ArrangementTest {
  @Test
  void theNewestPrimaryGetsTheSourceAndEveryStandbyASink() {
    Plan plan =
        Arrangement.plan(
            views(
                "east", view(Role.FENCED, 1),
                "west", view(Role.PRIMARY, 1),
                "north", view(Role.STANDBY, 1)),
            -1);
    assertThat(plan.source()).isEqualTo("west");
    assertThat(plan.sourceEpoch()).isEqualTo(1);
    assertThat(plan.regions().get("north").part()).isEqualTo(Part.SINK);
    assertThat(plan.regions().get("east"))
        .isEqualTo(new Decision(Part.IDLE, "FENCED at epoch 1", false));
  }

  @Test
  void anOlderPrimaryIsIdleAndAlarming() {
    Plan plan =
        Arrangement.plan(views("east", view(Role.PRIMARY, 0), "west", view(Role.PRIMARY, 1)), -1);
    assertThat(plan.source()).isEqualTo("west");
    Decision east = plan.regions().get("east");
    assertThat(east.part()).isEqualTo(Part.IDLE);
    assertThat(east.alarming()).isTrue();
    assertThat(east.detail()).isEqualTo("PRIMARY at epoch 0, older than region west's epoch 1");
  }

  @Test
  void noSourceWhileTwoRegionsClaimTheSameEpochOrTheEpochIsRetired() {
    Plan tie =
        Arrangement.plan(views("east", view(Role.PRIMARY, 2), "west", view(Role.PRIMARY, 2)), -1);
    assertThat(tie.source()).isNull();
    assertThat(tie.regions().get("east").detail()).contains("two claim one epoch");

    Map<String, RegionView> views =
        views("east", view(Role.PRIMARY, 0), "west", view(Role.STANDBY, 0));
    Plan retired = Arrangement.plan(views, 0);
    assertThat(retired.source()).isNull();
    assertThat(retired.regions().get("east").detail())
        .contains("no source until a region is PRIMARY at a higher epoch");
    assertThat(retired.regions().get("west").part()).isEqualTo(Part.SINK);
    // A promotion at a newer epoch gets the source again.
    views.put("west", view(Role.PRIMARY, 1));
    assertThat(Arrangement.plan(views, 0).source()).isEqualTo("west");
  }

  @Test
  void aRegionThatStopsAnsweringKeepsItsLastRoleAndOneNeverReachedGetsNothing() {
    Plan plan =
        Arrangement.plan(
            views(
                "east",
                new RegionView(Role.PRIMARY, 0, "UNAVAILABLE: connection refused"),
                "west",
                RegionView.UNKNOWN),
            -1);
    assertThat(plan.source()).isEqualTo("east");
    assertThat(plan.regions().get("east").detail())
        .isEqualTo("last probe failed: UNAVAILABLE: connection refused");
    assertThat(plan.regions().get("west"))
        .isEqualTo(new Decision(Part.IDLE, "unreachable: not probed yet", true));
  }

  private static RegionView view(Role role, long epoch) {
    return new RegionView(role, epoch, "");
  }

  private static Map<String, RegionView> views(Object... regionsAndViews) {
    Map<String, RegionView> out = new LinkedHashMap<>();
    for (int i = 0; i < regionsAndViews.length; i += 2) {
      out.put((String) regionsAndViews[i], (RegionView) regionsAndViews[i + 1]);
    }
    return out;
  }
}
