"""Stage selections and keyers that several Planners of one Dockerfile share.

A study plans the same Dockerfile under several profiles, each for a cold and a
warm build. Without sharing, every Planner selects the stages again and keys
every instruction again. A `PlannerSetup` builds each selection once per set of
selection inputs and each Keyer once per option set and build inputs. Its
Keyers share memoised key parts between option sets that key alike
(`parts_options`), so hashing happens once per instruction and stage state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cachelab.dockerfile.graph import StageGraph, plan_stages
from cachelab.dockerfile.model import Dockerfile
from cachelab.keys.flags import KanikoOptions
from cachelab.keys.parts import MissingSourcePolicy
from cachelab.plan.interfaces import BaseImageSource
from cachelab.plan.keying import Keyer, parts_options
from cachelab.plan.seeding import BaseResolver
from cachelab.plan.selection import select_stages
from cachelab.plan.stages import StageList


class PlannerSetup:
    """Stage selections and memoising Keyers for Planners of one Dockerfile.

    Pass one setup to every Planner of `dockerfile` whose context directory and
    stage files stay unchanged while the setup lives (a study's empty context
    does): its Keyers never hash a file twice. With `memoize=False` nothing is
    shared, which is what a Planner without a setup gets.
    """

    def __init__(
        self, dockerfile: Dockerfile, *, memoize: bool = True, context_dirs: dict[str, str] | None = None,
    ) -> None:
        self.dockerfile = dockerfile
        self.memoize = memoize
        self._selections: dict[tuple[object, ...], tuple[BaseResolver, StageList]] = {}
        self._graphs: dict[tuple[object, ...], tuple[BaseResolver, StageGraph]] = {}
        self._keyers: dict[tuple[object, ...], Keyer] = {}
        # By options identity first: hashing a KanikoOptions costs more than a lookup.
        self._keyers_by_id: dict[tuple[object, ...], tuple[KanikoOptions, Keyer]] = {}
        self._resolvers: dict[tuple[object, ...], BaseResolver] = {}
        # A caller that plans many Dockerfiles in one context passes one map to all setups.
        self._context_dirs: dict[str, str] = context_dirs if context_dirs is not None else {}

    def context_dir(self, context_dir: str | os.PathLike[str]) -> str:
        """Return the absolute, symlink-free path of `context_dir`."""
        path = os.fspath(context_dir)
        resolved = self._context_dirs.get(path) if self.memoize else None
        if resolved is None:
            resolved = str(Path(path).resolve())
            if self.memoize:
                self._context_dirs[path] = resolved
        return resolved

    def resolver(self, images: BaseImageSource, *, options: KanikoOptions, platform: str | None) -> BaseResolver:
        """Return a BaseResolver shared by every Planner with this image source and seed options."""
        if not self.memoize:
            return BaseResolver(images, options=options, platform=platform)
        resolver_key = (id(images), platform, options.oci_scratch_base, options.no_propagate_annotations)
        resolver = self._resolvers.get(resolver_key)
        if resolver is None or resolver.images is not images:
            resolver = BaseResolver(images, options=options, platform=platform)
            self._resolvers[resolver_key] = resolver
        return resolver

    def stage_graph(
        self, *, targets: Sequence[str], build_args: Mapping[str, str], bases: BaseResolver,
    ) -> StageGraph:
        """Return the front end's stage graph for these inputs, with `bases`' ONBUILD triggers.

        Planners select their stages from this graph, so a caller that also needs
        the graph (a study's stage shapes) gets it without selecting twice.
        """
        if not self.memoize:
            return self._plan_stages(targets, build_args, bases)
        graph_key = (tuple(targets), tuple(build_args.items()), id(bases.images), bases.platform)
        cached = self._graphs.get(graph_key)
        if cached is not None and cached[0].images is bases.images:
            return cached[1]
        graph = self._plan_stages(targets, build_args, bases)
        self._graphs[graph_key] = (bases, graph)
        return graph

    def _plan_stages(self, targets: Sequence[str], build_args: Mapping[str, str], bases: BaseResolver) -> StageGraph:
        return plan_stages(
            self.dockerfile, targets=targets, build_args=build_args,
            image_onbuild=bases.onbuild_triggers, platform=bases.platform,
        )

    def selection(
        self, dockerfile: Dockerfile, *, targets: Sequence[str], build_args: Mapping[str, str], bases: BaseResolver,
        arg_precedence: bool = True,
    ) -> StageList:
        """Return the stages kaniko builds for `targets`, selected once per inputs and image source.

        `arg_precedence` is `FF_KANIKO_BUILDKIT_ARG_ENV_PRECEDENCE`, which the
        `COPY --from` sources are expanded with. Planners never change a
        StageList or its stages (elimination works on copies), so one list
        serves them all.
        """
        self._check(dockerfile)
        graph = self.stage_graph(targets=targets, build_args=build_args, bases=bases)
        if not self.memoize:
            return self._select(dockerfile, graph, build_args, bases, arg_precedence)
        selection_key = (tuple(targets), tuple(build_args.items()), id(bases.images), bases.platform, arg_precedence)
        cached = self._selections.get(selection_key)
        if cached is not None and cached[0].images is bases.images:
            return cached[1]
        selection = self._select(dockerfile, graph, build_args, bases, arg_precedence)
        # The resolver is kept so its image source stays alive and its id is not reused.
        self._selections[selection_key] = (bases, selection)
        return selection

    @staticmethod
    def _select(
        dockerfile: Dockerfile, graph: StageGraph, build_args: Mapping[str, str], bases: BaseResolver,
        arg_precedence: bool,
    ) -> StageList:
        return select_stages(
            dockerfile, graph, build_args=build_args, base_env=bases.image_env, arg_precedence=arg_precedence,
        )

    def keyer(
        self,
        options: KanikoOptions,
        *,
        dockerfile: Dockerfile,
        context_dir: str,
        dockerfile_path: str | os.PathLike[str],
        build_args: Mapping[str, str],
        platform: str | None,
        last_stage: str | None,
        missing_source: MissingSourcePolicy,
    ) -> Keyer:
        """Return the Keyer of one option set and build inputs, built once per distinct inputs."""
        self._check(dockerfile)
        if not self.memoize:
            return Keyer(
                options, dockerfile=dockerfile, context_dir=context_dir, dockerfile_path=dockerfile_path,
                build_args=build_args, platform=platform, last_stage=last_stage, missing_source=missing_source,
            )
        inputs = (context_dir, os.fspath(dockerfile_path), tuple(build_args.items()), platform, last_stage,
                  missing_source)
        known = self._keyers_by_id.get((id(options), *inputs))
        if known is not None and known[0] is options:
            return known[1]

        keyer = self._keyers.get((options, *inputs))
        if keyer is None:
            # Parts depend on the stage state, which the memo key contains, and otherwise
            # only on these inputs. Option sets that key alike share one Keyer's context,
            # arguments and memo.
            alike_key = (parts_options(options), *inputs)
            alike = self._keyers.get(alike_key)
            if alike is None:
                alike = Keyer(
                    options, dockerfile=dockerfile, context_dir=context_dir, dockerfile_path=dockerfile_path,
                    build_args=build_args, platform=platform, last_stage=last_stage,
                    missing_source=missing_source, memo={},
                )
                self._keyers[alike_key] = alike
            keyer = alike if alike.options == options else alike.with_options(options)
            self._keyers[(options, *inputs)] = keyer
        self._keyers_by_id[(id(options), *inputs)] = (options, keyer)
        return keyer

    def _check(self, dockerfile: Dockerfile) -> None:
        if dockerfile is not self.dockerfile:
            raise ValueError(
                f"this PlannerSetup belongs to {self.dockerfile.path!r}, not to {dockerfile.path!r}; "
                "create one setup per Dockerfile",
            )
