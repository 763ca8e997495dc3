"""The rewards ledger (`rewards/`) and its staff tools (`staff/reward-rules/`, `staff/rewards/`)."""

from rest_framework.routers import SimpleRouter

from rewards.views import RewardViewSet, StaffRewardRuleViewSet, StaffRewardViewSet

app_name = "rewards"

router = SimpleRouter()
router.register("rewards", RewardViewSet, basename="rewards")
router.register("staff/reward-rules", StaffRewardRuleViewSet, basename="staff-reward-rules")
router.register("staff/rewards", StaffRewardViewSet, basename="staff-rewards")

urlpatterns = router.urls
