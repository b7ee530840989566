"""The posts domain as the registry sees it."""

from datalake_platform.domains.posts import assets
from datalake_platform.domains.posts.checks import checks
from datalake_platform.domains.posts.governance import GOVERNANCE
from datalake_platform.domains.posts.online import ONLINE
from datalake_platform.domains.posts.seed import seed
from datalake_platform.domains.posts.tables import OWNERS
from datalake_platform.registry import Domain

DOMAIN = Domain(
    name="posts",
    owners=OWNERS,
    governance=GOVERNANCE,
    online=ONLINE,
    seed=seed,
    assets=[
        assets.landing_posts,
        assets.landing_human_scores,
        assets.labelled_tweets,
        assets.sentiment_model,
        assets.posts_stream,
    ],
    checks=list(checks),
    jobs=[assets.posts_realtime],
)
