"""Build the library of public-domain masters the example-based painter paints after.

    python -m training.masters_library --paintings ../shared/data/paintings --out weights/masters

Writes ``<out>/<style>/<slug>.jpg`` and ``<out>/MANIFEST.tsv`` from :data:`MASTERS`, the
selection table below: a reviewer reads there which painting was chosen, as what, and why it is
public domain, and this command reproduces the files. Nothing else may live in the library: any
other JPEG under a style folder is deleted, and a source whose licence the shared manifest calls
unknown or modern is refused, so a face photo or a copyrighted work cannot slip in by hand.

Why the files look as they do:

* **Bust crop.** The app aligns a master into its square frame (eye distance 0.16 of the width,
  eye line at 38 % of the height, :mod:`portrait.align`). A full-length painting would spend most
  of its pixels outside that frame, so a portrait much larger than its bust is cropped to
  :data:`CROP_WIDTH` eye distances wide (a margin round the frame's 6.25), centred on the face,
  eyes at :data:`EYE_LINE` of the height, 4:5 like a painted bust, clipped to the painting. The box
  comes from MTCNN's landmarks; the eye distance it is scaled by is floored by the eye-to-mouth
  distance, so a three-quarter head (eyes foreshortened) is not cropped too tight.
* **Size.** Long side at most :data:`LONG_SIDE` (LANCZOS), JPEG quality 92, baseline: big enough
  that a portrait's eyes stay :data:`MIN_EYES` px apart (the 512² frame then is barely upscaled),
  small enough that the whole library stays a few MB in the repository.
* **Re-measured.** The eye distance written to the manifest is MTCNN's on the committed file; a
  portrait or miniature whose face is not found there with the app's detector threshold, or is
  smaller than :data:`MIN_EYES`, stops the build.
* **FaceMesh.** The app also runs MediaPipe's FaceMesh on each aligned portrait; one engraving it
  could not read (checked by hand when the table was made) is listed as a medium exemplar.
* **Medium exemplars** (no usable face: washes on paper, a hatched ground, a small engraved head)
  are kept whole, only resized; the painter uses them with appearance and segmentation guides.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

STYLES = ("oil", "watercolor", "ink")
KINDS = ("portrait", "miniature", "medium")
COLUMNS = ("file", "style", "kind", "sex", "age", "skin", "artist", "title", "date", "medium", "source",
           "public_domain", "eyes_px", "crop")
#: Longest side of a committed file.
LONG_SIDE = 768
#: Smallest eye distance (px) a portrait or miniature may have in its committed file.
MIN_EYES = 60
#: MTCNN confidence a master's face must reach: the app's detector ignores weaker faces.
MIN_SCORE = 0.92
#: Bust crop: width in eye distances, height over width, eye line as a fraction of the height.
CROP_WIDTH = 8.5
CROP_ASPECT = 1.25
EYE_LINE = 0.37
#: Eye-to-mouth distance of a frontal face in eye distances (MTCNN points): floors the crop scale.
EYE_TO_MOUTH = 1.1
#: A crop keeping at least this share of both sides is not worth making: the file is kept whole.
KEEP_WHOLE = 0.9
JPEG_QUALITY = 92
#: The library must stay small enough to live in the repository.
MAX_BYTES = 10_000_000


@dataclass(frozen=True)
class Choice:
    """One master: where it comes from, what it is, and why it was chosen (``note``, not shipped)."""

    source: str  #: path under the shared paintings folder
    style: str
    slug: str
    kind: str  #: portrait | miniature | medium
    sex: str  #: m | f | - (medium without one clear sitter)
    age: str  #: child | young | adult | old | -
    skin: str  #: light | medium | dark | - : the painted sitter's skin as seen
    artist: str
    title: str
    date: str  #: "-" when unknown (the app's credit line then drops it)
    medium: str
    public_domain: str
    note: str = ""


_AIC = "; Art Institute of Chicago open-access image (CC0)"
_2D = "; photograph of a 2D public-domain work"


def _c(source: str, target: str, kind: str, sitter: str, artist: str, title: str, date: str, medium: str,
       public_domain: str, note: str) -> Choice:
    """One row of the table: ``target`` is ``style/slug``, ``sitter`` is ``"sex age skin"``."""
    style, slug = target.split("/")
    sex, age, skin = sitter.split()
    return Choice(source, style, slug, kind, sex, age, skin, artist, title, date, medium, public_domain, note)


#: The selection. Every candidate was looked at; those left out, and why, are in :data:`REJECTED`.
#: Each row: shared file, target (style/slug), kind, "sex age skin", artist, title, date, medium,
#: why it is public domain, and why it was chosen (the note stays here; it is not shipped).
MASTERS: tuple[Choice, ...] = (
    # --- oil ---------------------------------------------------------------------------------------------
    _c("oil/ex_rembrandt_selfportrait_1669_mauritshuis.jpg",
       "oil/rembrandt_self_portrait_1669", "portrait", "m old light",
       "Rembrandt van Rijn", "Self-Portrait", "1669", "Oil on canvas",
       "artist died 1669" + _2D + " (Mauritshuis)",
       "soft cap, not a brim; the headline old master"),
    _c("oil/ex_rubens_old_man_ruff_oval.jpg",
       "oil/rubens_old_man_ruff", "portrait", "m old light",
       "Peter Paul Rubens (or circle)", "Portrait of an Old Man with a Ruff", "-", "Oil on panel",
       "Rubens died 1640; 17th-century work" + _2D + " (Art UK)",
       "bare-headed, frontal; wood grain visible round the oval"),
    _c("oil/ex_mengs_artists_father_ismael.jpg",
       "oil/mengs_ismael_mengs", "portrait", "m old light",
       "Anton Raphael Mengs", "Portrait of the Artist's Father, Ismael Mengs", "1747/48", "Oil on canvas",
       "artist died 1779" + _AIC,
       "bare-headed, frontal, large face"),
    _c("oil/rsq_delakrua_avtoportret_1837.jpg",
       "oil/delacroix_self_portrait_1837", "portrait", "m adult light",
       "Eugène Delacroix", "Self-Portrait in a Green Vest", "1837", "Oil on canvas",
       "artist died 1863" + _2D,
       "adult man, bare-headed"),
    _c("oil/rsq_bryullov_avtoportret_1848.jpg",
       "oil/bryullov_self_portrait_1848", "portrait", "m adult light",
       "Karl Bryullov", "Self-Portrait", "1848", "Oil on cardboard",
       "artist died 1852" + _2D,
       "support as usually catalogued (Tretyakov), not checked here"),
    _c("oil/crop_greko_apostoly_petr_i_pavel_24.jpg",
       "oil/el_greco_saint_paul", "portrait", "m adult light",
       "El Greco", "Saint Paul (detail of The Apostles Peter and Paul)", "1587–1592", "Oil on canvas",
       "artist died 1614" + _2D + " (Hermitage)",
       "an adult man, bare-headed, frontal: the shared file is already a crop of Paul's head"),
    _c("oil/ex_sanchezcoello_don_juan_austria.jpg",
       "oil/sanchez_coello_don_juan_of_austria", "portrait", "m child light",
       "Alonso Sánchez Coello", "Portrait of Don Juan of Austria", "1559/60", "Oil on canvas",
       "artist died 1588" + _AIC,
       "a boy of about 13, bare-headed"),
    _c("oil/rsq_muril_o_mal_chik_s_sobakoy_1650.jpg",
       "oil/murillo_boy_with_a_dog", "portrait", "m child medium",
       "Bartolomé Esteban Murillo", "Boy with a Dog", "c. 1650", "Oil on canvas",
       "artist died 1682" + _2D + " (Hermitage)",
       "a smiling, sun-browned boy: a smile to keep a smile"),
    _c("oil/ex_ravivarma_expectation.jpg",
       "oil/ravi_varma_expectation", "portrait", "f adult medium",
       "Raja Ravi Varma", "Expectation", "c. 1890s", "Oil on canvas",
       "artist died 1906" + _2D + " (Google Art Project)",
       "the set's one large-faced sitter of colour; her hand rests at the temple, not across the face"),
    _c("oil/ex_manet_woman_black_fichu.jpg",
       "oil/manet_woman_with_a_black_fichu", "portrait", "f adult light",
       "Édouard Manet", "Portrait of a Woman with a Black Fichu", "c. 1878", "Oil on canvas",
       "artist died 1883" + _AIC,
       "bare-headed, frontal, loose brushwork"),
    _c("oil/ex_tischbein_helen.jpg",
       "oil/tischbein_helen", "portrait", "f young light",
       "Johann Heinrich Wilhelm Tischbein", "Helen", "c. 1787", "Oil on canvas",
       "artist died 1829" + _AIC,
       "bare-headed (a hair band)"),
    _c("oil/ex_rubensfollower_isabella_bourbon.jpg",
       "oil/rubens_follower_isabella_of_bourbon", "portrait", "f adult light",
       "Follower of Peter Paul Rubens", "Portrait of Isabella of Bourbon", "c. 1630", "Oil on canvas",
       "17th-century work" + _AIC,
       "bare-headed, ruff below the chin"),
    _c("oil/rsq_geynsboro_dama_v_golubom_1780.jpg",
       "oil/gainsborough_lady_in_blue", "portrait", "f young light",
       "Thomas Gainsborough", "Portrait of a Lady in Blue", "c. 1780", "Oil on canvas",
       "artist died 1788" + _2D + " (Hermitage)",
       "powdered hair, no hat"),
    _c("oil/rsq_rafael__dama_s_edinorogom_1506.jpg",
       "oil/raphael_lady_with_a_unicorn", "portrait", "f young light",
       "Raphael", "Young Woman with a Unicorn", "c. 1506", "Oil on canvas, transferred from panel",
       "artist died 1520" + _2D + " (Galleria Borghese)",
       "frontal, bare-headed, High Renaissance finish"),
    _c("oil/crop_vinchi_mona_liza_27.jpg",
       "oil/leonardo_mona_lisa", "portrait", "f adult light",
       "Leonardo da Vinci", "Mona Lisa", "c. 1503–1506", "Oil on poplar panel",
       "artist died 1519" + _2D + " (Louvre)",
       "shared file is already a bust crop of the painting (crop box in the shared manifest)"),
    _c("oil/rsq_borovikovskiy_portret_lopukhinoy_1797.jpg",
       "oil/borovikovsky_maria_lopukhina", "portrait", "f young light",
       "Vladimir Borovikovsky", "Portrait of Maria Lopukhina", "1797", "Oil on canvas",
       "artist died 1825" + _2D + " (Tretyakov Gallery)",
       "bare-headed, soft smile"),
    _c("oil/ex_sargent_mrs_george_swinton_detail.jpg",
       "oil/sargent_mrs_george_swinton", "portrait", "f young light",
       "John Singer Sargent", "Mrs. George Swinton (detail)", "1897", "Oil on canvas",
       "artist died 1925" + _AIC + " (Sargent microsite)",
       "bravura Sargent brushwork; a small tiara"),
    _c("oil/ex_rembrandt_83_year_old_woman.jpg",
       "oil/rembrandt_83_year_old_woman", "portrait", "f old light",
       "Rembrandt van Rijn", "Portrait of an 83-year-old Woman", "1634", "Oil on oak panel",
       "artist died 1669" + _2D + " (Art UK)",
       "the one large-faced old woman; a white cap as women of her age wore"),
    _c("oil/rsq_tropinin_kruzhevnitsa_1823.jpg",
       "oil/tropinin_the_lacemaker", "portrait", "f young light",
       "Vasily Tropinin", "The Lacemaker", "1823", "Oil on canvas",
       "artist died 1857" + _2D + " (Tretyakov Gallery)",
       "smiling, bare-headed, three-quarter"),
    _c("oil/ex_renoir_lucie_berard.jpg",
       "oil/renoir_lucie_berard", "portrait", "f child light",
       "Pierre-Auguste Renoir", "Lucie Bérard (Child in White)", "1883", "Oil on canvas",
       "artist died 1919" + _AIC,
       "a small child, bare-headed, Impressionist touch"),
    _c("oil/ex_clouet_marguerite_valois_child.jpg",
       "oil/clouet_marguerite_de_valois_as_a_child", "portrait", "f child light",
       "François Clouet", "Marguerite de Valois as a Child", "c. 1560", "Oil on panel",
       "artist died 1572" + _2D,
       "a girl; support assumed (French court panel), not checked here"),
    _c("oil/crop_serov_devochka_s_persikami_23.jpg",
       "oil/serov_girl_with_peaches", "portrait", "f child light",
       "Valentin Serov", "Girl with Peaches", "1887", "Oil on canvas",
       "artist died 1911" + _2D + " (Tretyakov Gallery)",
       "shared file is already a bust crop of the painting, at a higher resolution than the full view"),
    # --- watercolor --------------------------------------------------------------------------------------
    _c("watercolor/ex_oliver_miniature_man_embroidered.jpg",
       "watercolor/oliver_man_in_embroidered_shirt", "miniature", "m adult light",
       "Isaac Oliver", "Portrait of a Man (Henry Danvers, Earl of Danby?)", "late 1590s",
       "Watercolour on vellum",
       "artist died 1617" + _2D + " (Nationalmuseum Stockholm)",
       "bare-headed, bearded; his hatted twin NMB 974 left out"),
    _c("watercolor/ex_english_miniature_bearded_man.jpg",
       "watercolor/english_school_bearded_man", "miniature", "m adult light",
       "English school", "Portrait Miniature of a Bearded Man", "c. 1600–1620", "Watercolour on vellum",
       "early-17th-century work" + _2D,
       "bare-headed, frontal"),
    _c("watercolor/ex_hilliard_robert_devereux_essex.jpg",
       "watercolor/hilliard_earl_of_essex_1588", "miniature", "m young light",
       "Nicholas Hilliard", "Robert Devereux, 2nd Earl of Essex", "1588", "Watercolour on vellum",
       "artist died 1619" + _2D,
       "a young man of 22, bare-headed"),
    _c("watercolor/ex_clouet_workshop_catherine_medici_miniature.jpg",
       "watercolor/clouet_workshop_catherine_de_medici", "miniature", "f adult light",
       "Workshop of François Clouet", "Catherine de' Medici", "c. 1555", "Watercolour and gouache on vellum",
       "16th-century work (Clouet died 1572)" + _2D,
       "French hood at the back of the head, face clear; medium presumed by the shared manifest"),
    _c("watercolor/ex_oliver_anne_of_denmark_miniature.jpg",
       "watercolor/oliver_anne_of_denmark", "miniature", "f adult light",
       "Isaac Oliver", "Anne of Denmark", "c. 1611–1612", "Watercolour on vellum",
       "artist died 1617" + _2D + " (Royal Collection)",
       "bare-headed, frontal"),
    _c("ink/pa_franz_xaver_winterhalter_pincess_clothilde_von_saxen_cobu.jpg",
       "watercolor/winterhalter_princess_clotilde", "portrait", "f child light",
       "Franz Xaver Winterhalter", "Princess Clotilde of Saxe-Coburg and Gotha", "-",
       "Watercolour over pencil on paper",
       "artist died 1873" + _2D,

             "filed under ink in the shared set, but it is transparent washes over pencil on paper: "
       "the one large-faced watercolour on paper"),
    _c("watercolor/pa_franz_xaver_winterhalter_albert_edward_prince_of_wales.jpg",
       "watercolor/winterhalter_albert_edward_prince_of_wales", "medium", "m young light",
       "Franz Xaver Winterhalter", "Albert Edward, Prince of Wales", "-", "Watercolour on paper",
       "artist died 1873" + _2D,
       "a bust in washes on bare paper; face 32 px, so a medium exemplar"),
    _c("watercolor/wc_zorn_the_painter_bruno_liljefors_1906.jpg",
       "watercolor/zorn_bruno_liljefors_1906", "medium", "m adult light",
       "Anders Zorn", "The Painter Bruno Liljefors", "1906", "Watercolour on paper",
       "artist died 1920" + _2D,
       "a figure in wet washes; hat and small face, so medium only"),
    _c("watercolor/wc_kirchner_bubbles_1916.jpg",
       "watercolor/kirchner_bubbles_1916", "medium", "f young light",
       "Raphael Kirchner", "Bubbles", "1916", "Watercolour (printed postcard)",
       "artist died 1917" + _2D,
       "flat washes on a toned ground, a head in profile"),
    _c("watercolor/wc_bakst_russian_peasant_woman_1922.jpg",
       "watercolor/bakst_russian_peasant_woman_1922", "medium", "f adult light",
       "Léon Bakst", "Russian Peasant Woman (costume design)", "1922", "Watercolour and gouache on paper",
       "artist died 1924" + _2D,
       "a figure on white paper"),
    _c("watercolor/wc_prendergast_children_at_the_beach.jpg",
       "watercolor/prendergast_children_at_the_beach", "medium", "- - -",
       "Maurice Prendergast", "Children at the Beach", "-", "Watercolour on paper",
       "artist died 1924" + _2D,
       "blooms and transparent blues, many small figures"),
    _c("watercolor/wc_cezanne_still_life_with_carafe_sugar_bow.jpg",
       "watercolor/cezanne_still_life_with_carafe", "medium", "- - -",
       "Paul Cézanne", "Still Life with Carafe, Sugar Bowl, Bottle, Pomegranates and Watermelon", "-",
       "Watercolour over pencil on paper",
       "artist died 1906" + _2D,
       "the textbook of transparent washes over bare white paper"),
    _c("watercolor/wc_cezanne_bathers.jpg",
       "watercolor/cezanne_bathers", "medium", "- - -",
       "Paul Cézanne", "Bathers", "-", "Watercolour over pencil on paper",
       "artist died 1906" + _2D,
       "figures in layered transparent strokes"),
    _c("watercolor/wc_sargent_roman_architecture.jpg",
       "watercolor/sargent_roman_architecture", "medium", "- - -",
       "John Singer Sargent", "Roman Architecture", "-", "Watercolour on paper",
       "artist died 1925" + _2D,
       "Sargent's wet-in-wet light and shadow (no figure)"),
    _c("watercolor/wc_larsson_old_anna.jpg",
       "watercolor/larsson_old_anna", "medium", "- - -",
       "Carl Larsson", "Old Anna", "-", "Watercolour on paper",
       "artist died 1919" + _2D,
       "pen outline and flat washes, a small figure in a doorway"),
    _c("watercolor/wc_blake_archangel_raphael_with_adam_and_ev.jpg",
       "watercolor/blake_raphael_with_adam_and_eve", "medium", "- - -",
       "William Blake", "The Archangel Raphael with Adam and Eve", "1808", "Pen and watercolour on paper",
       "artist died 1827" + _2D,
       "pen line with washes, figures"),
    # --- ink ---------------------------------------------------------------------------------------------
    _c("ink/ex_droeshout_shakespeare_engraving.jpg",
       "ink/droeshout_shakespeare_first_folio", "portrait", "m adult light",
       "Martin Droeshout", "William Shakespeare (First Folio title page)", "1623", "Engraving",
       "engraved 1623, engraver died c. 1650" + _2D,
       "line-rich: every tone is hatching, which is what ink wants"),
    _c("ink/composer_engraving_wig_18c.jpg",
       "ink/engraved_composer_in_a_wig", "medium", "m adult light",
       "Anonymous engraver", "Portrait of a Composer in a Wig", "18th century", "Engraving",
       "18th-century engraving, engraver long dead" + _2D,
       "crisp engraved line; 65 px eyes, but the app's FaceMesh finds no face in the hatching, so medium"),
    _c("ink/ex_bernini_selfportrait_chalk.jpg",
       "ink/bernini_self_portrait_chalk", "portrait", "m young light",
       "Gian Lorenzo Bernini", "Self-Portrait as a Young Man", "c. 1630–1635", "Black and red chalk on paper",
       "artist died 1680" + _2D,
       "bold strokes rather than smooth tone"),
    _c("ink/ex_clouet_marguerite_valois_drawing.jpg",
       "ink/clouet_marguerite_de_valois_drawing", "portrait", "f young light",
       "François Clouet (or workshop)", "Marguerite de Valois", "c. 1570", "Black and red chalk on paper",
       "artist died 1572" + _2D,
       "hatched chalk, bare-headed"),
    _c("ink/ex_clouet_circle_catherine_medici_drawing.jpg",
       "ink/clouet_circle_catherine_de_medici", "portrait", "f adult light",
       "Circle of François Clouet", "Catherine de' Medici", "c. 1550s", "Black and red chalk on paper",
       "16th-century drawing (Clouet died 1572)" + _2D + " (BnF)",
       "hood behind the head, face clear"),
    _c("ink/ex_clouet_circle_catherine_medici_queen_mother.jpg",
       "ink/clouet_circle_catherine_de_medici_queen_mother", "portrait", "f adult light",
       "Circle of François Clouet", "Catherine de' Medici as Queen Mother", "c. 1560s",
       "Black and red chalk on paper",
       "16th-century drawing (Clouet died 1572)" + _2D,
       "a mature woman in chalk line; widow's cap behind the face"),
    _c("ink/pa_konstantin_somov_portrait_a_somova_mikhailova.jpg",
       "ink/somov_anna_somova_mikhailova", "portrait", "f young light",
       "Konstantin Somov", "Portrait of A. Somova-Mikhailova", "-", "Pencil on paper",
       "artist died 1939: public domain where the term is life + 70 (since 2010)" + _2D,
       "a young woman, bare-headed, visible pencil strokes"),
    _c("ink/ex_stimmer_copernicus_woodcut.jpg",
       "ink/stimmer_copernicus_woodcut", "medium", "m adult light",
       "After Tobias Stimmer", "Nicolaus Copernicus (Reusner, Icones)", "1587", "Woodcut",
       "16th-century woodcut (Stimmer died 1584)" + _2D,
       "bold woodcut line; face 53 px"),
    _c("ink/composer_engraving_oval_17c.jpg",
       "ink/engraved_composer_oval", "medium", "m adult light",
       "Anonymous engraver", "Oval Portrait of a Composer", "17th century", "Engraving",
       "17th-century engraving" + _2D,
       "dense cross-hatching; small face"),
    _c("ink/ex_engraving_humperdinck.jpg",
       "ink/wood_engraved_humperdinck", "medium", "m adult light",
       "Anonymous engraver", "Engelbert Humperdinck", "c. 1890s", "Wood engraving",
       "published c. 1890s, before 1929, anonymous" + _2D,
       "wood-engraved stipple and line"),
    _c("ink/ex_vandergucht_william_byrd.jpg",
       "ink/vandergucht_william_byrd", "medium", "m adult light",
       "Gerard Vandergucht after N. Haym", "William Byrd", "c. 1729", "Engraving",
       "engraver died 1776" + _2D,
       "engraved ground of horizontal lines"),
    _c("ink/ex_clouet_mary_stuart_chalk_c1559.jpg",
       "ink/clouet_mary_stuart_c1559", "medium", "f young light",
       "François Clouet (or workshop)", "Mary, Queen of Scots", "c. 1558–1559",
       "Black and red chalk on paper",
       "artist died 1572" + _2D + " (BnF)",
       "hatched chalk on bare paper; 49 px eyes"),
    _c("ink/pa_albrecht_durer_portrait_melchior_pfinzing.jpg",
       "ink/durer_melchior_pfinzing", "medium", "m adult light",
       "Albrecht Dürer", "Portrait of Melchior Pfinzing", "-", "Pen and ink on paper",
       "artist died 1528" + _2D,
       "pen hatching on a profile head (MTCNN finds no face)"),
    _c("ink/ink_durer_peasant_couple_dancing_1514.jpg",
       "ink/durer_peasant_couple_dancing_1514", "medium", "- - -",
       "Albrecht Dürer", "Peasant Couple Dancing", "1514", "Engraving",
       "artist died 1528" + _2D,
       "engraved hatching and cross-hatching, two figures"),
    _c("ink/ink_durer_death_and_the_landsknecht_1510.jpg",
       "ink/durer_death_and_the_landsknecht_1510", "medium", "- - -",
       "Albrecht Dürer", "Death and the Landsknecht", "1510", "Woodcut",
       "artist died 1528" + _2D,
       "woodcut line on white paper"),
)

#: Candidates looked at and left out (file: why), kept for the reviewer.
REJECTED: dict[str, str] = {
    "oil/ex_afterclouet_mary_queen_scots_white.jpg": "white mourning veil round the face",
    "oil/ex_morisot_young_girl_hat.jpg": "large bonnet, head bent down",
    "oil/ex_cottet_portrait_woman.jpg": "large hat",
    "oil/ex_rubens_chapeau_de_paille.jpg": "hat",
    "oil/ex_preti_martin_de_redin.jpg": "tall hat",
    "oil/ex_southgerman_man_red_cap.jpg": "red cap; hand with flowers under the face",
    "oil/ex_rembrandt_old_man_fur_turban.jpg": "turban",
    "oil/ex_rembrandt_man_oriental_costume.jpg": "turban",
    "oil/ex_rembrandt_old_man_red_cap.jpg": "cap; a crack across the picture",
    "oil/ex_rembrandt_old_man_plumed_cap.jpg": "plumed cap",
    "oil/ex_rembrandt_old_man_dark_cap.jpg": "cap; old men already well covered",
    "oil/ex_rembrandt_old_man_reading.jpg": "looking down, cap",
    "oil/ex_rembrandt_bald_old_man.jpg": "eyes cast down; old men already well covered",
    "oil/ex_rembrandt_head_old_man_white_beard.jpg": "near profile, looking down",
    "oil/ex_rembrandt_selfportrait_age_63.jpg": "61 px eyes, borderline; cap; Rembrandt 1669 chosen instead",
    "oil/ex_solimena_portrait_girl.jpg": "head cloth, gaze far to the side",
    "oil/ex_gonzales_girl_cherries.jpg": "bonnet",
    "oil/ex_sargent_la_carmencita_detail.jpg": "stage make-up (whitened face, red lips)",
    "oil/ex_corot_interrupted_reading.jpg": "head tilted onto a raised hand",
    "oil/ex_rembrandt_girl_at_window.jpg": "hands under the chin",
    "oil/ex_renoir_madame_clapisson.jpg": "usable (66 px); Renoir already represented",
    "oil/ex_regnault_young_woman.jpg": "61 px, borderline",
    "oil/ex_gauguin_woman_still_life.jpg": "61 px, borderline",
    "oil/rsq_renuar_portret_zhanny_samari_1877.jpg": "hand against the chin and cheek",
    "oil/rsq_vinchi_dama_s_gornostaem_1490.jpg": "usable; Leonardo represented by the Mona Lisa",
    "oil/rsq_karavadzho_bol_noy_vakkh_1593.jpg": "ivy wreath on the head, grapes at the face",
    "oil/rsq_gog_avtoportret_s_perevyazannym_uk_1889.jpg": "fur cap, bandage and pipe",
    "oil/rsq_kramskoy_neizvestnaya_1883.jpg": "hat",
    "oil/vermeer_girl_pearl_earring.jpg": "turban",
    "oil/rembrandt_selfportrait_beret.jpg": "beret; Rembrandt 1669 chosen",
    "oil/pa_vittore_carpaccio_portrait_of_an_unknown_man_with_red_ber.jpg": "beret",
    "oil/pa_vincent_van_gogh_self_portrait_with_straw_hat_1887_2.jpg": "straw hat",
    "oil/matisse_woman_with_hat_1905.jpg": "hat; artist died 1954",
    "oil/pa_maurice_quentin_de_la_tour_francois_louis_veron_forbonnai.jpg": "a pastel, filed under oil",
    "oil/vangogh_selfportrait_1889.jpg": "MTCNN's confidence 0.90, under the app's detector threshold 0.92",
    "oil/rsq_titsian_dinariy_kesarya_1516.jpg": "two sitters",
    "oil/rsq_titsian_salomeya_1515.jpg": "two heads",
    "oil/rsq_vinchi_madonna_litta_1491.jpg": "mother and child",
    "oil/pa_emile_bernard_african_woman_1895.jpg": "sitter of colour, but 32 px eyes",
    "ink/ex_clouet_mary_queen_scots_drawing.jpg": "white mourning veil round the face",
    "ink/dia_drawing_man_portrait.jpg": "licence unknown",
    "ink/dia_engraving_man_portrait.jpg": "licence unknown",
    "ink/jojogan_pencil_sketch_woman_1.jpg": "modern work (and the other jojogan_/dia_modern_ sketches)",
    "ink/ex_engraving_orlando_gibbons.jpg": "a jagged, blocky 200-px scan",
    "ink/ex_engraving_gottschalk.jpg": "flat grey tone in this 200-px scan, little line",
    "ink/ex_engraving_john_field.jpg": "small (49 px, 200-px scan); the larger engravings chosen instead",
    "ink/ex_vandergucht_thomas_tallis.jpg": "small (47 px, 200-px scan); Vandergucht's Byrd chosen instead",
    "ink/ex_flipart_francois_couperin.jpg": "small (45 px, 200-px scan)",
    "ink/ex_drawing_henry_purcell.jpg": "faint tonal chalk, 45 px",
    "ink/ex_clouet_mary_stuart_aged13.jpg": "tonal coloured chalk, 52 px; Mary Stuart c. 1559 chosen instead",
    "ink/pa_antonio_carneiro_auto_retrato_1913.jpg": "54 px; tonal charcoal",
    "ink/pa_leonardo_da_vinci_head_of_st_peter.jpg": "profile, 53 px",
    "watercolor/ex_oliver_miniature_man_black_hat.jpg": "hat; same sitter as the embroidered-shirt miniature",
    "watercolor/ex_english_miniature_black_hat_ruff.jpg": "tall hat",
    "watercolor/schiele_selfportrait.jpg": "hands across the face",
    "ink/pa_franz_xaver_winterhalter_caroline_elisabeth_de_lagrange.jpg": "tonal, 30 px",
    "ink/pa_franz_xaver_winterhalter_sofia_gagarina.jpg": "tonal, 24 px",
    "ink/pa_james_mcneill_whistler_fantin_latour_drawing_sun.jpg": "top hat over the face; medium unclear",
    "ink/ink_durer_adam_and_eve_1504_1.jpg": "fine engraving, but two nudes",
    "watercolor/wc_cezanne_the_garden_at_les_lauves_1906.jpg": "perhaps the oil of that title",
    "watercolor/wc_wa_*": "licence column 'unknown' (artist not recorded), though many titles are Sargent's",
    "watercolor/dia_modern_*": "modern works",
}


def licence_ok(note: str) -> bool:
    """Whether the shared manifest's licence note lets the file be published."""
    low = note.lower()
    return not (low.startswith("unknown") or "modern" in low or "copyright" in low)


def read_shared_manifest(paintings: Path) -> dict[str, dict[str, str]]:
    with open(paintings / "MANIFEST.tsv", newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


class Faces:
    """MTCNN (facenet-pytorch; its weights ship in the wheel), built once."""

    def __init__(self) -> None:
        import torch
        from facenet_pytorch import MTCNN

        torch.set_grad_enabled(False)
        self.mtcnn = MTCNN(keep_all=True, post_process=False, device="cpu").eval()

    def largest(self, image: Image.Image) -> tuple[np.ndarray, float] | None:
        """Five landmarks (left eye, right eye, nose, mouth corners) and score of the largest face."""
        boxes, scores, points = self.mtcnn.detect(image.convert("RGB"), landmarks=True)
        if boxes is None:
            return None
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        best = int(np.argmax(areas))
        return np.asarray(points[best], dtype=np.float64).reshape(5, 2), float(np.asarray(scores)[best])


def eye_distance(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[1] - landmarks[0]))


def bust_box(landmarks: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The bust crop round a face, clipped to the painting; None when it would keep nearly all of it."""
    eyes = (landmarks[0] + landmarks[1]) / 2
    mouth = (landmarks[3] + landmarks[4]) / 2
    scale = max(eye_distance(landmarks), float(np.linalg.norm(mouth - eyes)) / EYE_TO_MOUTH)
    width = CROP_WIDTH * scale
    height = width * CROP_ASPECT
    centre_x = float(landmarks[:, 0].mean())
    x0, y0 = centre_x - width / 2, eyes[1] - EYE_LINE * height
    box = (max(0, round(x0)), max(0, round(y0)),
           min(size[0], round(x0 + width)), min(size[1], round(y0 + height)))
    if box[2] - box[0] >= KEEP_WHOLE * size[0] and box[3] - box[1] >= KEEP_WHOLE * size[1]:
        return None
    return box


def fit(image: Image.Image) -> Image.Image:
    """At most :data:`LONG_SIDE` on the long side (never upscaled)."""
    scale = LONG_SIDE / max(image.size)
    if scale >= 1:
        return image
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def build_one(choice: Choice, paintings: Path, out: Path, shared: dict[str, dict[str, str]],
              faces: Faces) -> dict[str, str]:
    """Write one master's JPEG and return its manifest row."""
    if choice.style not in STYLES or choice.kind not in KINDS:
        raise ValueError(f"{choice.slug}: bad style or kind")
    row = shared.get(choice.source)
    if row is None:
        raise ValueError(f"{choice.source} is not in the shared paintings manifest")
    if not licence_ok(row["licence_note"]):
        raise ValueError(f"{choice.source}: licence {row['licence_note']!r} may not be published")
    image = Image.open(paintings / choice.source).convert("RGB")
    box = None
    if choice.kind != "medium":
        found = faces.largest(image)
        if found is None:
            raise ValueError(f"{choice.source}: MTCNN finds no face")
        box = bust_box(found[0], image.size)
        if box is not None:
            image = image.crop(box)
    image = fit(image)
    target = out / choice.style / f"{choice.slug}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, "JPEG", quality=JPEG_QUALITY, progressive=False, optimize=True)
    eyes = "-"
    if choice.kind != "medium":
        found = faces.largest(Image.open(target))
        if found is None or found[1] < MIN_SCORE:
            raise ValueError(f"{target}: face lost after cropping and resizing")
        distance = eye_distance(found[0])
        if distance < MIN_EYES:
            raise ValueError(f"{target}: eyes {distance:.0f} px apart, fewer than {MIN_EYES}")
        eyes = str(round(distance))
    return {"file": f"{choice.style}/{choice.slug}.jpg", "style": choice.style, "kind": choice.kind,
            "sex": choice.sex, "age": choice.age, "skin": choice.skin, "artist": choice.artist,
            "title": choice.title, "date": choice.date, "medium": choice.medium,
            "source": f"{choice.source} ({row['source']})", "public_domain": choice.public_domain,
            "eyes_px": eyes, "crop": "-" if box is None else ",".join(map(str, box))}


def build(paintings: Path, out: Path, masters: tuple[Choice, ...] = MASTERS) -> list[dict[str, str]]:
    """Write every master and the manifest; delete any other JPEG in the style folders."""
    slugs = [(c.style, c.slug) for c in masters]
    if len(set(slugs)) != len(slugs):
        raise ValueError("duplicate slug")
    shared = read_shared_manifest(paintings)
    faces = Faces()
    rows = []
    for choice in masters:
        rows.append(build_one(choice, paintings, out, shared, faces))
        row = rows[-1]
        print(f"{row['file']:62s} {choice.kind:9s} eyes {row['eyes_px']:>3s} crop {row['crop']}")
    wanted = {out / r["file"] for r in rows}
    for style in STYLES:
        for stale in sorted((out / style).glob("*")):
            if stale not in wanted:
                print(f"removing {stale} (not in the selection)")
                stale.unlink()
    with open(out / "MANIFEST.tsv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if total > MAX_BYTES:
        raise ValueError(f"library is {total / 1e6:.1f} MB, over {MAX_BYTES / 1e6:.0f} MB")
    for style in STYLES:
        kinds = [r["kind"] for r in rows if r["style"] == style]
        print(f"{style}: {len(kinds)} masters ({', '.join(f'{kinds.count(k)} {k}' for k in KINDS)})")
    print(f"total {total / 1e6:.2f} MB")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paintings", type=Path, required=True, help="the shared paintings folder")
    parser.add_argument("--out", type=Path, default=Path("weights/masters"))
    args = parser.parse_args()
    build(args.paintings, args.out)


if __name__ == "__main__":
    main()
