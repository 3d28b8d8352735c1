"""The kernel models, laid out like the kernel tree.

Every model function that follows a kernel function can be replaced by a variant file: the
import hook installed here registers each one as its module is imported (see
:mod:`vmacheck.kernel.variants`).
"""

from vmacheck.kernel import replaceable as _replaceable

_replaceable.install()
