"""Forms of the game and project pages. Validation of the domain stays in services/models."""

from __future__ import annotations

from django import forms

from games.models import Clip, Game
from games.presets import ASPECT_CHOICES


class GameCreateForm(forms.Form):
    """A game without JavaScript: a title and one video file, posted in one request."""

    title = forms.CharField(max_length=200)
    file = forms.FileField(label="Video file")


class ProjectCreateForm(forms.Form):
    """A project from chosen clips of one game, in the order of the game."""

    name = forms.CharField(max_length=200)
    aspect = forms.ChoiceField(choices=ASPECT_CHOICES, initial="9:16")
    clips = forms.ModelMultipleChoiceField(
        queryset=Clip.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one clip."},
    )

    def __init__(self, *args, game: Game, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clips"].queryset = game.clips.all()
